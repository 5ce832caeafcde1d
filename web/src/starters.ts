// What the editor knows per language: Monaco's language id for highlighting,
// a file extension for the model's path, and a starter program that shows
// output, stdin and arguments. Languages the server lists but this file does
// not know still work, as plain text with an empty starter.

export interface LanguageInfo {
  monaco: string;
  extension: string;
  starter: string;
}

const python = `# Python 3. Input comes from the console (interactive) or the stdin panel.
import sys


def main() -> None:
    print("Hello from Python!")
    if len(sys.argv) > 1:
        print("Arguments:", " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
`;

const javascript = `// Node.js. Read stdin with require("fs").readFileSync(0, "utf8").
function main() {
  console.log("Hello from JavaScript!");
  const args = process.argv.slice(2);
  if (args.length > 0) console.log("Arguments:", args.join(" "));
}

main();
`;

const c = `// C. Read stdin with scanf/fgets.
#include <stdio.h>

int main(int argc, char **argv) {
    printf("Hello from C!\\n");
    for (int i = 1; i < argc; i++) {
        printf("argv[%d] = %s\\n", i, argv[i]);
    }
    return 0;
}
`;

const cpp = `// C++. Read stdin with std::cin / std::getline.
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char **argv) {
    std::cout << "Hello from C++!" << std::endl;
    std::vector<std::string> args(argv + 1, argv + argc);
    for (const auto &arg : args) {
        std::cout << "arg: " << arg << '\\n';
    }
    return 0;
}
`;

const java = `// Java. The class must be called Main; read stdin with new Scanner(System.in).
public class Main {
    public static void main(String[] args) {
        System.out.println("Hello from Java!");
        for (String arg : args) {
            System.out.println("arg: " + arg);
        }
    }
}
`;

const go = `// Go. Read stdin with bufio.NewScanner(os.Stdin).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Println("Hello from Go!")
	for _, arg := range os.Args[1:] {
		fmt.Println("arg:", arg)
	}
}
`;

const rust = `// Rust. Read stdin with std::io::stdin().read_line(&mut line).
use std::env;

fn main() {
    println!("Hello from Rust!");
    for arg in env::args().skip(1) {
        println!("arg: {arg}");
    }
}
`;

const ruby = `# Ruby. Read stdin with gets.
def main
  puts "Hello from Ruby!"
  ARGV.each { |arg| puts "arg: #{arg}" }
end

main
`;

const bash = `#!/usr/bin/env bash
# Bash. Read stdin with: read -r line
set -euo pipefail

echo "Hello from Bash!"
for arg in "$@"; do
  echo "arg: $arg"
done
`;

// ---------------------------------------------------------------- JVM and .NET

const kotlin = `// Kotlin 1.3 (JVM). Read stdin with readLine().
fun main(args: Array<String>) {
    println("Hello from Kotlin!")
    for (arg in args) {
        println("arg: $arg")
    }
}
`;

const scala = `// Scala 2.11. The object must be called Main; read stdin with scala.io.StdIn.readLine().
object Main {
  def main(args: Array[String]): Unit = {
    println("Hello from Scala!")
    for (arg <- args) {
      println(s"arg: $arg")
    }
  }
}
`;

const groovy = `// Groovy. Read stdin with System.in.newReader().readLine().
println "Hello from Groovy!"
args.each { arg ->
    println "arg: $arg"
}
`;

const clojure = `;; Clojure. Read stdin with (read-line).
(defn -main [& args]
  (println "Hello from Clojure!")
  (doseq [arg args]
    (println "arg:" arg)))

(apply -main *command-line-args*)
`;

const csharp = `// C# (Mono). Read stdin with Console.ReadLine().
using System;

public class Program
{
    public static void Main(string[] args)
    {
        Console.WriteLine("Hello from C#!");
        foreach (string arg in args)
        {
            Console.WriteLine($"arg: {arg}");
        }
    }
}
`;

// ---------------------------------------------------------------- functional and logic

const haskell = `-- Haskell (GHC). Read stdin with getLine or getContents.
import System.Environment (getArgs)

main :: IO ()
main = do
  putStrLn "Hello from Haskell!"
  args <- getArgs
  mapM_ (\\arg -> putStrLn ("arg: " ++ arg)) args
`;

const ocaml = `(* OCaml. Read stdin with read_line (). *)
let () =
  print_endline "Hello from OCaml!";
  let args = List.tl (Array.to_list Sys.argv) in
  List.iter (fun arg -> Printf.printf "arg: %s\\n" arg) args
`;

const erlang = `%% Erlang (escript): main/1 gets the arguments. Read stdin with io:get_line("").
-module(main).
-export([main/1]).

main(Args) ->
    io:setopts([{encoding, unicode}]),
    io:format("Hello from Erlang!~n"),
    lists:foreach(fun(Arg) -> io:format("arg: ~ts~n", [Arg]) end, Args).
`;

const elixir = `# Elixir. Read stdin with IO.gets("").
IO.puts("Hello from Elixir!")

for arg <- System.argv() do
  IO.puts("arg: #{arg}")
end
`;

const racket = `#lang racket
;; Racket. Read stdin with (read-line).
(displayln "Hello from Racket!")
(for ([arg (current-command-line-arguments)])
  (printf "arg: ~a\\n" arg))
`;

const scheme = `;; Scheme (Guile 3). Read stdin with (read-line) from (ice-9 rdelim).
(define (main args)
  (display "Hello from Scheme!")
  (newline)
  (for-each (lambda (arg) (format #t "arg: ~a~%" arg))
            args))

(main (cdr (command-line)))
`;

const commonlisp = `;;;; Common Lisp (SBCL). Read stdin with (read-line).
(defun main (args)
  (format t "Hello from Common Lisp!~%")
  (dolist (arg args)
    (format t "arg: ~a~%" arg)))

(main (rest sb-ext:*posix-argv*))
`;

const prolog = `% Prolog (SWI-Prolog). Read stdin with read_term(Term, []) or read_line_to_string(user_input, Line).
:- initialization(main, main).

main(Argv) :-
    format("Hello from Prolog!~n"),
    forall(member(Arg, Argv), format("arg: ~w~n", [Arg])).
`;

// ---------------------------------------------------------------- compiled to native code

// The GCC programs, named for Clang: the same C17 and C++17.
const cClang = c
  .replace("// C.", "// C (Clang).")
  .replace("Hello from C!", "Hello from C (Clang)!");

const cppClang = cpp
  .replace("// C++.", "// C++ (Clang).")
  .replace("Hello from C++!", "Hello from C++ (Clang)!");

const fortran = `! Fortran (GFortran). Read stdin with read (*, '(A)') line.
program main
    implicit none
    integer :: i
    character(len=256) :: arg

    print '(A)', 'Hello from Fortran!'
    do i = 1, command_argument_count()
        call get_command_argument(i, arg)
        print '(2A)', 'arg: ', trim(arg)
    end do
end program main
`;

const pascal = `{ Pascal (Free Pascal). Read stdin with ReadLn(line). }
program Main;

var
  i: Integer;

begin
  WriteLn('Hello from Pascal!');
  for i := 1 to ParamCount do
    WriteLn('arg: ', ParamStr(i));
end.
`;

const d = `// D (GDC). Read stdin with readln().
import std.stdio;

void main(string[] args)
{
    writeln("Hello from D!");
    foreach (arg; args[1 .. $])
    {
        writeln("arg: ", arg);
    }
}
`;

const nim = `# Nim. Read stdin with stdin.readLine().
import std/os

echo "Hello from Nim!"
for arg in commandLineParams():
  echo "arg: ", arg
`;

const ada = `--  Ada (GNAT). The procedure is Main; read stdin with Ada.Text_IO.Get_Line.
with Ada.Text_IO;      use Ada.Text_IO;
with Ada.Command_Line; use Ada.Command_Line;

procedure Main is
begin
   Put_Line ("Hello from Ada!");
   for I in 1 .. Argument_Count loop
      Put_Line ("arg: " & Argument (I));
   end loop;
end Main;
`;

const cobol = `*> COBOL (GnuCOBOL, free format). Read stdin with ACCEPT a-variable.
IDENTIFICATION DIVISION.
PROGRAM-ID. hello.

DATA DIVISION.
WORKING-STORAGE SECTION.
01 arg-count PIC 9(4).
01 arg-index PIC 9(4).
01 arg-value PIC X(256).

PROCEDURE DIVISION.
    DISPLAY "Hello from COBOL!"
    ACCEPT arg-count FROM ARGUMENT-NUMBER
    PERFORM VARYING arg-index FROM 1 BY 1 UNTIL arg-index > arg-count
        ACCEPT arg-value FROM ARGUMENT-VALUE
        DISPLAY "arg: " FUNCTION TRIM(arg-value)
    END-PERFORM
    STOP RUN.
`;

const nasm = `; Assembly (NASM, x86-64 Linux, no libc: system calls only). Read stdin with the read system call (rax = 0).
        global  _start

        section .rodata
hello:  db      "Hello from Assembly!", 10
hello_len equ $ - hello
prefix: db      "arg: "
prefix_len equ $ - prefix
newline: db     10

        section .text
_start:
        lea     rsi, [rel hello]
        mov     edx, hello_len
        call    print

        mov     rbx, [rsp]              ; argc
        dec     rbx                     ; without the program's name
        lea     r12, [rsp + 16]         ; &argv[1]
.next_arg:
        test    rbx, rbx
        jz      .exit
        lea     rsi, [rel prefix]
        mov     edx, prefix_len
        call    print
        mov     rsi, [r12]              ; the argument, NUL-terminated
        xor     edx, edx
.length:
        cmp     byte [rsi + rdx], 0
        je      .print_arg
        inc     rdx
        jmp     .length
.print_arg:
        call    print
        lea     rsi, [rel newline]
        mov     edx, 1
        call    print
        add     r12, 8
        dec     rbx
        jmp     .next_arg
.exit:
        mov     eax, 60                 ; exit(0)
        xor     edi, edi
        syscall

; print: write(1, rsi, rdx)
print:
        mov     eax, 1
        mov     edi, 1
        syscall
        ret
`;

// ---------------------------------------------------------------- scripting and data

const typescript = `// TypeScript (tsc --strict, run on Node.js). No @types/node: declare the Node globals you use.
// Read stdin: declare function require(id: string): any; then require("fs").readFileSync(0, "utf8").
declare const process: { argv: string[] };

function main(): void {
  console.log("Hello from TypeScript!");
  const args: string[] = process.argv.slice(2);
  for (const arg of args) {
    console.log(\`arg: \${arg}\`);
  }
}

main();
`;

const php = `<?php
// PHP. Read stdin with fgets(STDIN).

echo "Hello from PHP!\\n";
foreach (array_slice($argv, 1) as $arg) {
    echo "arg: $arg\\n";
}
`;

const perl = `# Perl. Read stdin with my $line = <STDIN>.
use v5.36;

say "Hello from Perl!";
for my $arg (@ARGV) {
    say "arg: $arg";
}
`;

const lua = `-- Lua 5.4. Read stdin with io.read("l").
print("Hello from Lua!")
for _, a in ipairs(arg) do
  print("arg: " .. a)
end
`;

const r = `# R (Rscript). Read stdin with readLines(file("stdin")).
args <- commandArgs(trailingOnly = TRUE)
cat("Hello from R!\\n")
for (arg in args) {
  cat("arg: ", arg, "\\n", sep = "")
}
`;

const octave = `% Octave. Read stdin with fgetl(stdin).
args = argv();
printf("Hello from Octave!\\n");
for i = 1:numel(args)
  printf("arg: %s\\n", args{i});
end
`;

const sqlite = `-- SQL (SQLite 3), run on an empty in-memory database: no stdin and no arguments.
CREATE TABLE languages (
  name TEXT PRIMARY KEY,
  appeared INTEGER NOT NULL
);

INSERT INTO languages (name, appeared) VALUES
  ('Fortran', 1957),
  ('Lisp', 1958),
  ('COBOL', 1959),
  ('SQL', 1974);

SELECT 'Hello from SQLite!';
SELECT name, appeared FROM languages WHERE appeared < 1970 ORDER BY appeared;
`;

const tcl = `# Tcl. Read stdin with gets stdin line.
puts "Hello from Tcl!"
foreach arg $argv {
    puts "arg: $arg"
}
`;

const awk = `# AWK (GNU Awk). Rules after BEGIN read stdin line by line ($0), unless arguments name files.
BEGIN {
    print "Hello from AWK!"
    for (i = 1; i < ARGC; i++)
        print "arg: " ARGV[i]
}
`;

const pythonScientific = `# Python 3 with NumPy and pandas. Input comes from the console (interactive) or the stdin panel.
import sys

import numpy as np
import pandas as pd


def main() -> None:
    print("Hello from Python with NumPy and pandas!")
    x = np.linspace(0.0, 1.0, 5)
    table = pd.DataFrame({"x": x, "x squared": x**2})
    print(table)
    print("mean of x squared:", table["x squared"].mean())
    if len(sys.argv) > 1:
        print("Arguments:", " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
`;

const KNOWN: Record<string, LanguageInfo> = {
  python: { monaco: "python", extension: "py", starter: python },
  javascript: { monaco: "javascript", extension: "js", starter: javascript },
  c: { monaco: "c", extension: "c", starter: c },
  cpp: { monaco: "cpp", extension: "cpp", starter: cpp },
  java: { monaco: "java", extension: "java", starter: java },
  go: { monaco: "go", extension: "go", starter: go },
  rust: { monaco: "rust", extension: "rs", starter: rust },
  ruby: { monaco: "ruby", extension: "rb", starter: ruby },
  bash: { monaco: "shell", extension: "sh", starter: bash },
  // JVM and .NET
  kotlin: { monaco: "kotlin", extension: "kt", starter: kotlin },
  scala: { monaco: "scala", extension: "scala", starter: scala },
  groovy: { monaco: "groovy", extension: "groovy", starter: groovy },
  clojure: { monaco: "clojure", extension: "clj", starter: clojure },
  csharp: { monaco: "csharp", extension: "cs", starter: csharp },
  // Functional and logic
  haskell: { monaco: "haskell", extension: "hs", starter: haskell },
  ocaml: { monaco: "ocaml", extension: "ml", starter: ocaml },
  erlang: { monaco: "erlang", extension: "erl", starter: erlang },
  elixir: { monaco: "elixir", extension: "exs", starter: elixir },
  racket: { monaco: "scheme", extension: "rkt", starter: racket },
  scheme: { monaco: "scheme", extension: "scm", starter: scheme },
  commonlisp: { monaco: "commonlisp", extension: "lisp", starter: commonlisp },
  prolog: { monaco: "prolog", extension: "pl", starter: prolog },
  // Compiled to native code
  "c-clang": { monaco: "c", extension: "c", starter: cClang },
  "cpp-clang": { monaco: "cpp", extension: "cpp", starter: cppClang },
  fortran: { monaco: "fortran", extension: "f90", starter: fortran },
  pascal: { monaco: "pascal", extension: "pas", starter: pascal },
  d: { monaco: "d", extension: "d", starter: d },
  nim: { monaco: "nim", extension: "nim", starter: nim },
  ada: { monaco: "ada", extension: "adb", starter: ada },
  cobol: { monaco: "cobol", extension: "cob", starter: cobol },
  nasm: { monaco: "nasm", extension: "asm", starter: nasm },
  // Scripting and data
  typescript: { monaco: "typescript", extension: "ts", starter: typescript },
  php: { monaco: "php", extension: "php", starter: php },
  perl: { monaco: "perl", extension: "pl", starter: perl },
  lua: { monaco: "lua", extension: "lua", starter: lua },
  r: { monaco: "r", extension: "R", starter: r },
  octave: { monaco: "octave", extension: "m", starter: octave },
  sqlite: { monaco: "sql", extension: "sql", starter: sqlite },
  tcl: { monaco: "tcl", extension: "tcl", starter: tcl },
  awk: { monaco: "awk", extension: "awk", starter: awk },
  "python-scientific": { monaco: "python", extension: "py", starter: pythonScientific },
};

export function languageInfo(id: string): LanguageInfo {
  return KNOWN[id] ?? { monaco: "plaintext", extension: "txt", starter: "" };
}

/** The languages offered before the server has answered (or if it cannot). */
export const FALLBACK_LANGUAGES = Object.keys(KNOWN).map((id) => ({ id, name: id, version: "" }));
