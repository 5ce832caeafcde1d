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
};

export function languageInfo(id: string): LanguageInfo {
  return KNOWN[id] ?? { monaco: "plaintext", extension: "txt", starter: "" };
}

/** The languages offered before the server has answered (or if it cannot). */
export const FALLBACK_LANGUAGES = Object.keys(KNOWN).map((id) => ({ id, name: id, version: "" }));
