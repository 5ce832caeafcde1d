// Highlighting for the languages Monaco does not ship: one Monarch grammar
// factory (`grammar`) fed per-language data (keywords, comment markers,
// string delimiters, number style). Its coloured tokens are the ones the
// theme in monaco.ts styles (comment, keyword, string, number, type) plus
// vs-dark's `variable` and `constant`, so these languages look like the
// built-in ones. Like Monaco's own languages, a grammar is compiled only when a model
// of its language first appears. Racket reuses Monaco's scheme grammar (see
// starters.ts); Common Lisp gets its own entry for its defun/loop vocabulary.

import { languages } from "monaco-editor";

interface StringSpec {
  /** The delimiter that opens and closes the string: `"`, `'`, `"""`... */
  quote: string;
  /** How a delimiter gets inside: `\"` (backslash, the default), `""` (double) or not at all (none). */
  escape?: "backslash" | "double" | "none";
  /** Whether the string may run over several lines (triple-quoted strings). */
  multiline?: boolean;
  /** Whether typing the opening quote adds the closing one (default true). */
  autoClose?: boolean;
}

interface BlockComment {
  open: string;
  close: string;
  /** Whether comments nest, as Haskell's {- -} and OCaml's (* *) do. */
  nested?: boolean;
}

export interface GrammarSpec {
  /** The Monaco language id (what starters.ts names as `monaco`). */
  id: string;
  aliases: string[];
  extensions: string[];
  keywords: string[];
  /** Built-in type names (and for some languages other predefined names), shown as `type`. */
  types?: string[];
  /** Keywords and identifiers ignore case (Fortran, Ada, COBOL, NASM, Lisp). */
  ignoreCase?: boolean;
  lineComments?: string[];
  blockComments?: BlockComment[];
  strings: StringSpec[];
  /** A character literal, matched whole: `'a'`, `'\n'`. */
  char?: RegExp;
  /** Number literals; C-like by default (see NUMBER). */
  number?: RegExp;
  /** Identifiers (checked against keywords and types); `[a-zA-Z_]\w*` by default. */
  identifier?: RegExp;
  /** Language-specific tokens, tried after comments and before anything else:
   * capitalised names as types, Prolog variables, Erlang attributes... With
   * ignoreCase these match case-insensitively too. */
  rules?: [RegExp, string][];
}

/** Number literal styles. */
const NUMBER = {
  /** 42, 1_000, 3.14, 1e-9, 0xff, 0b1010, 0o17, with an optional type suffix (10L, 1.5f, 2u). */
  c: /0[xX][\da-fA-F_]+[a-zA-Z]*|0[bB][01_]+|0[oO][0-7_]+|\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?[a-zA-Z]*/,
  /** Erlang: 42, 3.14, 1.0e3, 16#ff. */
  erlang: /\d+#[\da-zA-Z]+|\d[\d_]*(?:\.\d+)?(?:[eE][+-]?\d+)?/,
  /** Ada: 1_000, 3.14, 1.0E+6, 16#FF#, 2#1010#. */
  ada: /\d[\d_]*#[\da-fA-F_.]+#(?:[eE][+-]?\d+)?|\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?/,
  /** Fortran: 42, 3.14, 1.0d-3, 2.5_dp. */
  fortran: /(?:\d+\.?\d*|\.\d+)(?:[eEdD][+-]?\d+)?(?:_\w+)?/,
  /** NASM: 42, 0x1f, 1fh, 1010b, 0b1010, 17q, 3.14. */
  nasm: /0[xXhH][\da-fA-F_]+|\d[\da-fA-F_]*[hH]\b|[01][01_]*[bByY]\b|[0-7][0-7_]*[qQoO]\b|0[bByY][01_]+|\d[\d_]*(?:\.\d+)?(?:[eE][+-]?\d+)?/,
};

/** `text` as a literal inside a Monarch regular expression (where `@name` would be expanded). */
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\\/-]/g, "\\$&").replace(/@/g, "@@");

/** A single-line string, matched whole; an unterminated one runs to the end of the line. */
function inlineString({ quote, escape = "backslash" }: StringSpec): RegExp {
  const q = escapeRegExp(quote);
  const body = { backslash: `(?:[^${q}\\\\]|\\\\.)*`, double: `(?:[^${q}]|${q}${q})*`, none: `[^${q}]*` }[escape];
  return new RegExp(`${q}${body}(?:${q}|$)`);
}

/** Builds the Monarch grammar for one language. */
function grammar(spec: GrammarSpec): languages.IMonarchLanguage {
  const comments: languages.IMonarchLanguageRule[] = [[/\s+/, "white"]];
  const states: Record<string, languages.IMonarchLanguageRule[]> = {};
  (spec.blockComments ?? []).forEach(({ open, close, nested }, i) => {
    const firsts = escapeRegExp(open[0] + close[0]);
    comments.push([new RegExp(escapeRegExp(open)), "comment", `@comment${i}`]);
    states[`comment${i}`] = [
      ...(nested ? [[new RegExp(escapeRegExp(open)), "comment", "@push"] as languages.IMonarchLanguageRule] : []),
      [new RegExp(escapeRegExp(close)), "comment", "@pop"],
      [new RegExp(`[^${firsts}]+`), "comment"],
      [/./, "comment"],
    ];
  });
  for (const marker of spec.lineComments ?? []) comments.push([new RegExp(`${escapeRegExp(marker)}.*$`), "comment"]);

  // Longer delimiters first, so """ is not read as "" followed by ".
  const strings: languages.IMonarchLanguageRule[] = [];
  [...spec.strings]
    .sort((a, b) => b.quote.length - a.quote.length)
    .forEach((string, i) => {
      if (!string.multiline) {
        strings.push([inlineString(string), "string"]);
        return;
      }
      const q = escapeRegExp(string.quote);
      const backslash = (string.escape ?? "backslash") === "backslash";
      strings.push([new RegExp(q), "string", `@string${i}`]);
      states[`string${i}`] = [
        ...(backslash ? [[/\\./, "string"] as languages.IMonarchLanguageRule] : []),
        [new RegExp(q), "string", "@pop"],
        [new RegExp(`[^${escapeRegExp(string.quote[0])}\\\\]+`), "string"],
        [/./, "string"],
      ];
    });
  if (spec.char) strings.push([spec.char, "string"]);

  return {
    defaultToken: "",
    tokenPostfix: `.${spec.id}`,
    ignoreCase: spec.ignoreCase ?? false,
    keywords: spec.keywords,
    types: spec.types ?? [],
    brackets: [
      { open: "(", close: ")", token: "delimiter.parenthesis" },
      { open: "[", close: "]", token: "delimiter.square" },
      { open: "{", close: "}", token: "delimiter.curly" },
    ],
    tokenizer: {
      root: [
        ...comments,
        ...(spec.rules ?? []),
        ...strings,
        [spec.number ?? NUMBER.c, "number"],
        [spec.identifier ?? /[a-zA-Z_]\w*/, { cases: { "@keywords": "keyword", "@types": "type", "@default": "identifier" } }],
        [/[()[\]{}]/, "@brackets"],
        [/[;,.]/, "delimiter"],
        // One character at a time, so a comment marker after an operator is still seen.
        [/./, "operator"],
      ],
      ...states,
    },
  };
}

/** Comment toggling, bracket matching and auto-closing for one language. */
function configuration(spec: GrammarSpec): languages.LanguageConfiguration {
  const block = spec.blockComments?.[0];
  const blockComment: languages.CharacterPair | undefined = block && [block.open, block.close];
  const quotes = spec.strings
    .filter((s) => s.quote.length === 1 && s.autoClose !== false)
    .map((s) => ({ open: s.quote, close: s.quote, notIn: ["string", "comment"] }));
  const brackets: languages.CharacterPair[] = [
    ["{", "}"],
    ["[", "]"],
    ["(", ")"],
  ];
  const pairs = [...brackets.map(([open, close]) => ({ open, close })), ...quotes];
  return {
    comments: { lineComment: spec.lineComments?.[0], blockComment },
    brackets,
    autoClosingPairs: pairs,
    surroundingPairs: pairs,
  };
}

const words = (text: string) => text.trim().split(/\s+/);

/** A name starting with a capital letter, as a type (or constructor, or module). */
const capitalizedType: [RegExp, string] = [/[A-Z][\w']*/, "type"];
/** A name starting with a capital letter or _, as a variable (Prolog, Erlang). */
const capitalizedVariable: [RegExp, string] = [/[A-Z_]\w*/, "variable"];
const backslashChar = /'(?:\\.[^'\n]*|[^'\\])'/;

const registers = [
  ...words("rax rbx rcx rdx rsi rdi rbp rsp rip eax ebx ecx edx esi edi ebp esp eip"),
  ...words("ax bx cx dx si di bp sp al bl cl dl ah bh ch dh sil dil bpl spl cs ds es fs gs ss"),
  ...Array.from({ length: 8 }, (_, i) => [`r${i + 8}`, `r${i + 8}d`, `r${i + 8}w`, `r${i + 8}b`]).flat(),
  ...Array.from({ length: 16 }, (_, i) => [`xmm${i}`, `ymm${i}`]).flat(),
];

export const GRAMMARS: GrammarSpec[] = [
  {
    id: "haskell",
    aliases: ["Haskell"],
    extensions: [".hs"],
    keywords: words(`case class data default deriving do else family forall foreign hiding if import in infix
      infixl infixr instance let mdo module newtype of qualified then type where`),
    lineComments: ["--"],
    blockComments: [{ open: "{-", close: "-}", nested: true }],
    strings: [{ quote: '"' }],
    char: backslashChar,
    identifier: /[a-z_][\w']*/,
    rules: [capitalizedType],
  },
  {
    id: "ocaml",
    aliases: ["OCaml"],
    extensions: [".ml", ".mli"],
    keywords: words(`and as asr assert begin class constraint do done downto else end exception external false
      for fun function functor if in include inherit initializer land lazy let lor lsl lsr lxor match method mod
      module mutable new nonrec object of open or private rec sig struct then to true try type val virtual when
      while with`),
    types: words("int float bool char string bytes unit list array option ref exn int32 int64 nativeint format"),
    blockComments: [{ open: "(*", close: "*)", nested: true }],
    strings: [{ quote: '"' }],
    char: backslashChar,
    identifier: /[a-z_][\w']*/,
    rules: [capitalizedType],
  },
  {
    id: "erlang",
    aliases: ["Erlang"],
    extensions: [".erl", ".hrl", ".escript"],
    keywords: words(`after and andalso band begin bnot bor bsl bsr bxor case catch cond div end fun if let maybe
      not of or orelse receive rem try when xor`),
    lineComments: ["%"],
    strings: [{ quote: '"' }, { quote: "'" }],
    number: NUMBER.erlang,
    rules: [
      [/-[a-z_]\w*(?=\s*\()/, "keyword"], // -module(...), -export([...]) attributes
      [/\$(?:\\.|.)/, "string"], // $a, $\n character literals
      capitalizedVariable,
    ],
  },
  {
    id: "prolog",
    aliases: ["Prolog"],
    extensions: [".pro", ".prolog"],
    keywords: words(`is mod rem div rdiv xor not dynamic discontiguous initialization module use_module
      ensure_loaded multifile table true fail false halt format write writeln print nl forall findall bagof
      setof member memberchk append length nth0 nth1 atom number var nonvar call catch throw assert asserta
      assertz retract between succ plus msort sort read_term read_line_to_string atom_codes atom_chars
      atom_length atom_string number_codes string_concat split_string sub_atom`),
    lineComments: ["%"],
    blockComments: [{ open: "/*", close: "*/" }],
    strings: [{ quote: '"' }, { quote: "'" }, { quote: "`" }],
    rules: [[/0'(?:\\.|.)/, "number"], capitalizedVariable],
  },
  {
    id: "fortran",
    aliases: ["Fortran"],
    extensions: [".f90", ".f95", ".f03", ".f08", ".f"],
    ignoreCase: true,
    keywords: words(`program end module submodule contains use only implicit none function subroutine call return
      result recursive pure elemental if then else elseif endif do enddo while concurrent select case default
      exit cycle stop print write read open close inquire allocate deallocate intent in out inout parameter
      dimension allocatable pointer target optional save data interface procedure type class extends abstract
      private public format goto go to where forall associate block critical`),
    types: words("integer real double precision complex character logical kind len"),
    lineComments: ["!"],
    strings: [
      { quote: '"', escape: "double" },
      { quote: "'", escape: "double" },
    ],
    number: NUMBER.fortran,
    rules: [[/\.(?:true|false|and|or|not|eqv|neqv|eq|ne|lt|le|gt|ge)\./, "keyword"]],
  },
  {
    id: "d",
    aliases: ["D"],
    extensions: [".d", ".di"],
    keywords: words(`abstract alias align asm assert auto body break case cast catch class const continue debug
      default delegate delete deprecated do else enum export extern false final finally for foreach
      foreach_reverse function goto if immutable import in inout interface invariant is lazy mixin module new
      nothrow null out override package pragma private protected public pure ref return scope shared static
      struct super switch synchronized template this throw true try typeid typeof union unittest version while
      with __gshared __traits`),
    types: words(`bool byte ubyte short ushort int uint long ulong cent ucent char wchar dchar float double real
      void string wstring dstring size_t ptrdiff_t`),
    lineComments: ["//"],
    blockComments: [
      { open: "/*", close: "*/" },
      { open: "/+", close: "+/", nested: true },
    ],
    strings: [{ quote: '"' }, { quote: "`", escape: "none" }],
    char: backslashChar,
    rules: [[/@[a-zA-Z_]\w*/, "keyword"], capitalizedType],
  },
  {
    id: "nim",
    aliases: ["Nim"],
    extensions: [".nim", ".nims"],
    keywords: words(`addr and as asm bind block break case cast concept const continue converter defer discard
      distinct div do elif else end enum except export finally for from func if import in include interface is
      isnot iterator let macro method mixin mod nil not notin object of or out proc ptr raise ref return shl
      shr static template try tuple type using var when while xor yield true false echo`),
    types: words(`int int8 int16 int32 int64 uint uint8 uint16 uint32 uint64 float float32 float64 bool char
      string cstring pointer seq array set openArray varargs void auto untyped typed`),
    lineComments: ["#"],
    blockComments: [{ open: "#[", close: "]#", nested: true }],
    strings: [{ quote: '"""', escape: "none", multiline: true }, { quote: '"' }],
    char: backslashChar,
    rules: [capitalizedType],
  },
  {
    id: "ada",
    aliases: ["Ada"],
    extensions: [".adb", ".ads"],
    ignoreCase: true,
    keywords: words(`abort abs abstract accept access aliased all and array at begin body case constant declare
      delay delta digits do else elsif end entry exception exit for function generic goto if in interface is
      limited loop mod new not null of or others out overriding package pragma private procedure protected
      raise range record rem renames requeue return reverse select separate some subtype synchronized tagged
      task terminate then type until use when while with xor true false`),
    types: words("Integer Natural Positive Float Long_Float Boolean Character String Wide_String Duration"),
    lineComments: ["--"],
    strings: [{ quote: '"', escape: "double" }],
    char: /'.'/,
    number: NUMBER.ada,
  },
  {
    id: "cobol",
    aliases: ["COBOL"],
    extensions: [".cob", ".cbl", ".cpy"],
    ignoreCase: true,
    keywords: words(`identification id division program-id author environment configuration input-output data
      working-storage local-storage linkage file section procedure pic picture value values is are display
      accept from move to add subtract multiply divide compute giving by into if else end-if evaluate when
      other end-evaluate perform varying until times end-perform stop run goback exit call using returning
      function occurs indexed redefines set true false and or not equal greater less than upon argument-number
      argument-value command-line string unstring delimited size inspect tallying replacing zero zeros zeroes
      space spaces with no advancing end-display continue`),
    lineComments: ["*>"],
    strings: [
      { quote: '"', escape: "double" },
      { quote: "'", escape: "double" },
    ],
    identifier: /[a-zA-Z][\w-]*/,
  },
  {
    id: "nasm",
    aliases: ["NASM", "Assembly"],
    extensions: [".asm", ".nasm"],
    ignoreCase: true,
    keywords: [
      ...words(`section segment global extern common bits default rel abs db dw dd dq dt do dy dz resb resw resd
        resq rest reso resy resz equ times incbin align alignb struc endstruc istruc iend at byte word dword
        qword tword oword yword zword strict`),
      ...words(`mov movzx movsx movsxd lea add adc sub sbb imul mul idiv div inc dec neg not and or xor shl shr
        sal sar rol ror cmp test jmp je jne jz jnz jg jge jl jle ja jae jb jbe js jns jo jno jc jnc jrcxz call ret
        push pop syscall int nop cqo cdq cwd loop rep repe repne movsb movsw movsd movsq stosb stosw stosd stosq
        lodsb scasb cmpsb cmove cmovne cmovz cmovnz cmovg cmovge cmovl cmovle cmova cmovb sete setne setz setnz
        setg setge setl setle seta setb xchg leave enter hlt cld std bswap bt bts btr popcnt lzcnt tzcnt`),
    ],
    types: registers,
    lineComments: [";"],
    strings: [{ quote: '"', escape: "none" }, { quote: "'", escape: "none" }, { quote: "`" }],
    number: NUMBER.nasm,
    identifier: /[a-zA-Z_.?][\w.?$#~]*/,
    rules: [[/%[a-zA-Z_]\w*/, "keyword"]], // %define, %macro...
  },
  {
    id: "octave",
    aliases: ["Octave", "MATLAB"],
    extensions: [".octave"],
    keywords: words(`function endfunction end if elseif else endif for endfor parfor endparfor while endwhile do
      until switch case otherwise endswitch try catch end_try_catch unwind_protect unwind_protect_cleanup
      end_unwind_protect break continue return global persistent`),
    lineComments: ["%", "#"],
    blockComments: [
      { open: "%{", close: "%}" },
      { open: "#{", close: "#}" },
    ],
    strings: [{ quote: '"' }, { quote: "'", escape: "double", autoClose: false }],
    // A quote right after a name or a closing bracket transposes (A', x(1)'): not a string.
    rules: [[/(?:[a-zA-Z_]\w*|[)\]}])'+/, "identifier"]],
  },
  {
    id: "awk",
    aliases: ["AWK", "gawk"],
    extensions: [".awk"],
    keywords: words(`BEGIN END BEGINFILE ENDFILE function func if else while for do break continue next nextfile
      exit return delete in getline print printf switch case default`),
    // The predefined variables.
    types: words(`ARGC ARGV ENVIRON FILENAME FNR FS NF NR OFS ORS RS RT RSTART RLENGTH SUBSEP CONVFMT OFMT
      PROCINFO IGNORECASE FIELDWIDTHS FPAT`),
    lineComments: ["#"],
    strings: [{ quote: '"' }],
    rules: [[/\$(?:\d+|[a-zA-Z_]\w*)?/, "variable"]], // $0, $1, $NF
  },
  {
    id: "groovy",
    aliases: ["Groovy"],
    extensions: [".groovy", ".gvy", ".gradle"],
    keywords: words(`abstract as assert break case catch class const continue def default do else enum extends
      final finally for goto if implements import in instanceof interface native new package private protected
      public return static strictfp super switch synchronized this throw throws trait transient try var
      volatile while true false null it`),
    types: words("boolean byte char short int long float double void"),
    lineComments: ["//"],
    blockComments: [{ open: "/*", close: "*/" }],
    strings: [
      { quote: '"""', multiline: true },
      { quote: "'''", multiline: true },
      { quote: '"' },
      { quote: "'" },
    ],
    rules: [[/@[a-zA-Z_]\w*/, "type"], capitalizedType],
  },
  {
    id: "commonlisp",
    aliases: ["Common Lisp", "lisp"],
    extensions: [".lisp", ".lsp", ".cl", ".asd"],
    ignoreCase: true,
    keywords: words(`defun defmacro defvar defparameter defconstant defstruct defclass defmethod defgeneric
      defpackage in-package let let* flet labels macrolet lambda if when unless cond case ecase typecase progn
      prog1 block return return-from loop do do* dolist dotimes for in on from to downto below above by collect
      append sum count maximize minimize while until finally with and or not setf setq incf decf push pop
      format quote function funcall apply mapcar mapc handler-case handler-bind unwind-protect
      multiple-value-bind destructuring-bind declare ignore t nil`),
    lineComments: [";"],
    blockComments: [{ open: "#|", close: "|#", nested: true }],
    strings: [{ quote: '"' }],
    identifier: /[^\s()'`,";|#][^\s()'`,";|]*/,
    rules: [
      [/#\\(?:[a-zA-Z]\w+|.)/, "string"], // #\a, #\Space
      [/#'/, "keyword"], // #'function
      [/:[^\s()'`,";|]+/, "constant"], // :keyword symbols
    ],
  },
];

/** Registers every grammar: the id at once, the tokenizer and editing rules when first used. */
export function registerGrammars(): void {
  for (const spec of GRAMMARS) {
    languages.register({ id: spec.id, aliases: spec.aliases, extensions: spec.extensions });
    languages.registerTokensProviderFactory(spec.id, { create: () => grammar(spec) });
    languages.onLanguageEncountered(spec.id, () => languages.setLanguageConfiguration(spec.id, configuration(spec)));
  }
}
