import { createRequire as __gcc_createRequire } from 'node:module'; const require = __gcc_createRequire(import.meta.url);
import {
  binaryEnv,
  defaultBranch,
  endGroup,
  getState,
  info,
  restoreCache,
  runBinary,
  saveCache,
  saveDecision,
  startGroup,
  warning
} from "./shared-MIO3AMXA.mjs";

// src/post.mjs
import fs from "node:fs";
async function run() {
  const raw = getState("go-ci-cache");
  if (!raw) {
    info("go-ci-cache: main did not finish; nothing to save");
    return;
  }
  const st = JSON.parse(raw);
  const env = binaryEnv(st.inputs, process.env, st.state);
  const ref = process.env.GITHUB_REF || "";
  const branch = defaultBranch();
  const mode = (process.env.ACTIONS_CACHE_MODE || "").toLowerCase();
  const entries = [
    ["modules", st.inputs.modulesCache, st.keys.modules, st.mod],
    ["build", st.inputs.buildCache, st.keys.build, st.bld]
  ];
  const plan = [];
  const lines = [];
  for (const [name, enabled, entry, restored] of entries) {
    if (!enabled) continue;
    const d = saveDecision({ policy: st.inputs.save, ref, defaultBranch: branch, exactHit: restored.hit, cacheMode: mode });
    if (d.save) plan.push([name, entry]);
    else {
      info(`go-ci-cache: not saving the ${name} cache: ${d.why}`);
      lines.push(`- ${name}: not saved: ${d.why}`);
    }
  }
  let after = {};
  if (plan.length > 0) {
    const caches = plan.length === 2 ? "both" : plan[0][0];
    startGroup("go-ci-cache: trim");
    runBinary(st.bin, ["trim", "--caches", caches], env);
    endGroup();
    const rep = runBinary(st.bin, ["report", "--format", "json", "--state", st.state], env, { capture: true });
    if (rep.status === 0) {
      const t = JSON.parse(rep.stdout).trim;
      after = { modules: t?.gomodcache?.after, build: t?.gocache?.after };
    }
  }
  startGroup("go-ci-cache: save");
  for (const [name, entry] of plan) {
    if (!fs.existsSync(entry.path) || after[name]?.files === 0) {
      info(`go-ci-cache: not saving the ${name} cache: the job left nothing in it`);
      lines.push(`- ${name}: not saved: empty`);
      continue;
    }
    try {
      const existing = await restoreCache([entry.path], entry.key, [], { lookupOnly: true });
      if (existing && existing.toLowerCase() === entry.key.toLowerCase()) {
        info(`go-ci-cache: ${name} cache ${entry.key} was already saved by another job; skipping`);
        lines.push(`- ${name}: already saved by another job`);
        continue;
      }
      const id = await saveCache([entry.path], entry.key);
      if (id === -1 || id === void 0) {
        lines.push(`- ${name}: not saved (see the log)`);
      } else {
        info(`go-ci-cache: saved the ${name} cache as ${entry.key}`);
        lines.push(`- ${name}: saved as \`${entry.key}\``);
      }
    } catch (e) {
      warning(`go-ci-cache: the ${name} cache could not be saved: ${e.message}`);
      lines.push(`- ${name}: save failed: ${e.message}`);
    }
  }
  endGroup();
  runBinary(st.bin, ["report", "--format", "github", "--state", st.state], env);
  if (process.env.GITHUB_STEP_SUMMARY && lines.length > 0) {
    fs.appendFileSync(process.env.GITHUB_STEP_SUMMARY, `${lines.join("\n")}
`);
  }
}
run().catch((e) => warning(`go-ci-cache post step: ${e.stack || e.message}`));
