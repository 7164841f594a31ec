// Checks Cypher statements with Neo4j's own parser and semantic analysis.
//
// stdin:  a JSON object {"name": "statement text", ...}
// stdout: a JSON object {"name": [{"severity": 1, "message": "...", "offsets": {...}}, ...]}
//         holding only the statements that have errors; {} when every statement is clean.
// exit:   0 when the check ran (whatever it found), 2 when the input was not usable.
//
// Statements are checked as Cypher 5 (the hub targets Neo4j 5), one statement per text, with
// console commands (:param, :use, ...) off because the hub sends statements through a driver.
// Every `$parameter` a statement references is declared in the schema, so the linter's
// "Parameter $x is not defined." errors never arise; isNotParamError drops any that would.
// Neo4j's built-in functions (with their signatures) are declared, taken from the Neo4j 5
// schema that the pinned package ships as `testData.mockSchema`, so a misspelt built-in, a
// wrong argument count or an argument of the wrong type is an error. A function in a namespace
// that no built-in uses (apoc.*, a plugin's) cannot be known here and is let through.
// No labels, relationship types, property keys or procedures are declared, so the linter skips
// those schema checks (they are warnings, or lookups that need the live database).
// Only severity-1 diagnostics are kept: warnings (deprecations, hints) are not errors.

import { readFileSync } from 'node:fs';
import {
  isNotParamError,
  lintCypherQuery,
  parseParameters,
  parseStatementsStrs,
  testData,
} from '@neo4j-cypher/language-support';

const CYPHER_VERSION = 'CYPHER 5';
const ERROR = 1; // DiagnosticSeverity.Error in the Language Server Protocol.

const BUILT_IN_FUNCTIONS = Object.fromEntries(
  Object.entries(testData.mockSchema.functions[CYPHER_VERSION]).filter(
    ([, fn]) => fn.isBuiltIn,
  ),
);
if (Object.keys(BUILT_IN_FUNCTIONS).length < 100) {
  throw new Error('the package no longer ships the built-in Cypher 5 functions');
}
const BUILT_IN_NAMESPACES = new Set(
  Object.keys(BUILT_IN_FUNCTIONS)
    .filter((name) => name.includes('.'))
    .map((name) => name.slice(0, name.lastIndexOf('.')).toLowerCase()),
);
const UNKNOWN_FUNCTION = /^Function (\S+) is not present in the database\./;

// An unknown function is an error unless it lives in a namespace that no built-in uses.
function isRealError(diagnostic) {
  const unknown = UNKNOWN_FUNCTION.exec(diagnostic.message);
  if (unknown === null) {
    return true;
  }
  const name = unknown[1];
  const dot = name.lastIndexOf('.');
  return dot < 0 || BUILT_IN_NAMESPACES.has(name.slice(0, dot).toLowerCase());
}

function fail(message) {
  process.stderr.write(`cypher-lint: ${message}\n`);
  process.exit(2);
}

function error(message, text) {
  return { severity: ERROR, message, offsets: { start: 0, end: text.length } };
}

function lintOne(text) {
  if (text.trim().length === 0) {
    return [error('The statement is empty.', text)];
  }
  const statements = parseStatementsStrs(text);
  if (statements.length > 1) {
    return [
      error(
        `The text holds ${statements.length} statements; a driver runs exactly one.`,
        text,
      ),
    ];
  }
  const parameters = Object.fromEntries(
    parseParameters(text, false).map((name) => [name, null]),
  );
  const dbSchema = {
    defaultLanguage: CYPHER_VERSION,
    parameters,
    functions: { [CYPHER_VERSION]: BUILT_IN_FUNCTIONS },
  };
  const { diagnostics } = lintCypherQuery(text, dbSchema, {
    consoleCommandsEnabled: false,
  });
  return diagnostics
    .filter((d) => d.severity === ERROR)
    .filter(isNotParamError)
    .filter(isRealError)
    .map(({ severity, message, offsets }) => ({ severity, message, offsets }));
}

let input;
try {
  input = JSON.parse(readFileSync(0, 'utf8'));
} catch (e) {
  fail(`stdin is not JSON: ${e.message}`);
}
if (input === null || typeof input !== 'object' || Array.isArray(input)) {
  fail('stdin must be a JSON object of {"name": "statement text"}');
}

const report = {};
for (const [name, text] of Object.entries(input)) {
  if (typeof text !== 'string') {
    fail(`the value for ${JSON.stringify(name)} is not a string`);
  }
  let errors;
  try {
    errors = lintOne(text);
  } catch (e) {
    errors = [error(`The linter failed on this statement: ${e?.stack ?? e}`, text)];
  }
  if (errors.length > 0) {
    report[name] = errors;
  }
}
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
