// Validates Kubernetes objects against the JSON schemas bundled in kubernetes-models (an
// ES-module-only package, hence this separate process: jest runs the suites as CommonJS).
// stdin: a JSON array of objects. stdout: a JSON array of { status, errors } in the same order,
// status "ok", "invalid" or "no-schema" (a kind the package has no model for, e.g. a CRD).
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const objects = JSON.parse(Buffer.concat(chunks).toString('utf8'));

const modules = new Map();
async function modelFor(apiVersion, kind) {
  if (!modules.has(apiVersion)) {
    modules.set(apiVersion, await import(`kubernetes-models/${apiVersion}`).catch(() => null));
  }
  const mod = modules.get(apiVersion);
  return mod && typeof mod[kind] === 'function' ? mod[kind] : null;
}

const results = [];
for (const obj of objects) {
  const Model = await modelFor(obj.apiVersion, obj.kind);
  if (!Model) {
    results.push({ status: 'no-schema', errors: [] });
    continue;
  }
  try {
    new Model(obj).validate();
    results.push({ status: 'ok', errors: [] });
  } catch (err) {
    results.push({ status: 'invalid', errors: [String(err && err.message ? err.message : err)] });
  }
}
process.stdout.write(JSON.stringify(results));
