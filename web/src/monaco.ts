// Monaco, bundled: the editor, its languages and its workers all come from
// this build (no CDN at run time). @monaco-editor/react's loader would fetch
// Monaco from a CDN by default; `loader.config({ monaco })` hands it this
// bundled copy instead. Workers are Vite `?worker` imports, so they are
// emitted as hashed files next to the app and loaded from the same origin.

import * as monaco from "monaco-editor";
import { loader } from "@monaco-editor/react";
import EditorWorker from "monaco-editor/editor/editor.worker?worker";
import TypeScriptWorker from "monaco-editor/language/typescript/ts.worker?worker";
import { registerGrammars } from "./grammars";

self.MonacoEnvironment = {
  getWorker(_workerId: string, label: string) {
    if (label === "typescript" || label === "javascript") return new TypeScriptWorker();
    return new EditorWorker();
  },
};

/** The editor's colours, matched to the app's dark palette. */
monaco.editor.defineTheme("rce-dark", {
  base: "vs-dark",
  inherit: true,
  rules: [
    { token: "comment", foreground: "7f8aa3", fontStyle: "italic" },
    { token: "keyword", foreground: "c792ea" },
    { token: "string", foreground: "a5d6a7" },
    { token: "number", foreground: "f7b267" },
    { token: "type", foreground: "7fdbca" },
    // vs-dark colours SQL strings red and functions magenta: keep them in this palette.
    { token: "string.sql", foreground: "a5d6a7" },
    { token: "predefined.sql", foreground: "7fdbca" },
  ],
  colors: {
    "editor.background": "#12151d",
    "editor.lineHighlightBackground": "#1a1f2b",
    "editorLineNumber.foreground": "#4a5268",
    "editorLineNumber.activeForeground": "#aab3c8",
    "editorGutter.background": "#12151d",
    "editor.selectionBackground": "#2c3b63",
    "editorCursor.foreground": "#7aa2ff",
    "editorIndentGuide.background1": "#232838",
    "scrollbarSlider.background": "#2a304080",
  },
});

// Node's globals in JavaScript programs are not errors.
monaco.typescript.javascriptDefaults.setDiagnosticsOptions({
  noSemanticValidation: true,
  noSyntaxValidation: false,
});

// TypeScript is checked as the server compiles it (tsc --strict --target
// es2020 --module commonjs), so what Monaco underlines is what tsc rejects.
monaco.typescript.typescriptDefaults.setCompilerOptions({
  strict: true,
  target: monaco.typescript.ScriptTarget.ES2020,
  module: monaco.typescript.ModuleKind.CommonJS,
  allowNonTsExtensions: true,
});

// Highlighting for the languages Monaco does not ship (Haskell, OCaml, Erlang...).
registerGrammars();

loader.config({ monaco });

export { monaco };
