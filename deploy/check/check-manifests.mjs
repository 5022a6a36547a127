// Validates rendered Kubernetes manifests: every object against the Kubernetes JSON schema of
// its apiVersion and kind (npm kubernetes-models), then what this deployment needs of them
// together (selectors that select, named ports that exist, the bootstrap label, the service
// account, a grace period that covers the drain).
//
//   kubectl kustomize ../kubernetes/overlays/cpu | node check-manifests.mjs cpu
//   node check-manifests.mjs --self-test     (proves each check can fail)
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const BOOTSTRAP_LABEL = ["app.kubernetes.io/part-of", "salient"];
// SalientServer.drainLimit: the drain period + 3.25 s to end the rest and flush statuses.
const DRAIN_EXTRA_SECONDS = 3.25;
// Leaving the cluster after the drain (cluster-leave, exiting, removal) on a loaded cluster.
const LEAVE_SECONDS = 10;

async function schemaErrors(object) {
  const { apiVersion, kind } = object;
  if (!apiVersion || !kind) {
    return ["has no apiVersion or kind"];
  }
  let module;
  try {
    module = await import(`kubernetes-models/${apiVersion}/${kind}`);
  } catch (e) {
    return [`${apiVersion} ${kind} is not a Kubernetes kind kubernetes-models knows`];
  }
  try {
    new module[kind](object).validate();
    return [];
  } catch (e) {
    return [e.message];
  }
}

function name(object) {
  return `${object.kind}/${object.metadata?.name}`;
}

function selects(selector, labels) {
  return Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);
}

function seconds(duration) {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/.exec(duration ?? "");
  if (!match) {
    return NaN;
  }
  const value = Number(match[1]);
  return match[2] === "ms" ? value / 1000 : match[2] === "m" ? value * 60 : value;
}

/** What the objects must satisfy together; each string names an object and what is wrong. */
function consistencyErrors(objects) {
  const errors = [];
  const workloads = objects.filter((o) => ["Deployment", "StatefulSet"].includes(o.kind));
  const configMaps = objects.filter((o) => o.kind === "ConfigMap");
  const accounts = new Set(objects.filter((o) => o.kind === "ServiceAccount")
    .map((o) => o.metadata.name));
  if (workloads.length === 0) {
    errors.push("no Deployment or StatefulSet");
  }
  for (const w of workloads) {
    const pod = w.spec.template;
    if (!selects(w.spec.selector?.matchLabels, pod.metadata?.labels)) {
      errors.push(`${name(w)}: its selector does not select its own pods`);
    }
    if (pod.metadata?.labels?.[BOOTSTRAP_LABEL[0]] !== BOOTSTRAP_LABEL[1]) {
      errors.push(`${name(w)}: pods lack ${BOOTSTRAP_LABEL.join("=")}, so Cluster Bootstrap `
        + "(Kubernetes API discovery) cannot find them");
    }
    if (!accounts.has(pod.spec.serviceAccountName)) {
      errors.push(`${name(w)}: service account ${pod.spec.serviceAccountName} is not defined`);
    }
    const container = pod.spec.containers.find((c) => c.name === "salient");
    if (!container) {
      errors.push(`${name(w)}: no container named salient (discovery's container-name)`);
      continue;
    }
    const ports = new Set((container.ports ?? []).map((p) => p.name));
    if (!ports.has("management")) {
      errors.push(`${name(w)}: no container port named management (discovery's port-name)`);
    }
    for (const probe of ["readinessProbe", "livenessProbe", "startupProbe"]) {
      const port = container[probe]?.httpGet?.port;
      if (!container[probe]) {
        errors.push(`${name(w)}: no ${probe}`);
      } else if (typeof port === "string" && !ports.has(port)) {
        errors.push(`${name(w)}: ${probe} uses port ${port}, which the container does not name`);
      }
    }
    if (container.readinessProbe?.httpGet?.path !== "/ready"
        || container.livenessProbe?.httpGet?.path !== "/alive") {
      errors.push(`${name(w)}: readiness must be /ready and liveness /alive (Pekko Management)`);
    }
    const refs = (container.envFrom ?? []).map((e) => e.configMapRef?.name).filter(Boolean);
    for (const ref of refs) {
      if (!configMaps.some((c) => c.metadata.name === ref)) {
        errors.push(`${name(w)}: ConfigMap ${ref} is not defined`);
      }
    }
    const env = Object.assign({}, ...configMaps.filter((c) => refs.includes(c.metadata.name))
      .map((c) => c.data ?? {}));
    const drain = seconds(env.SALIENT_SHUTDOWN_TIMEOUT ?? "20s");
    const preStop = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
    const needed = preStop + drain + DRAIN_EXTRA_SECONDS + LEAVE_SECONDS;
    const grace = pod.spec.terminationGracePeriodSeconds ?? 30;
    if (!(grace >= needed)) {
      errors.push(`${name(w)}: terminationGracePeriodSeconds ${grace} is below the ${needed} s `
        + `that preStop (${preStop} s), the drain (${drain} s + ${DRAIN_EXTRA_SECONDS} s) and `
        + `leaving the cluster (${LEAVE_SECONDS} s) take`);
    }
    if (!container.resources?.requests?.memory || !container.resources?.limits?.memory) {
      errors.push(`${name(w)}: no memory request and limit`);
    }
    if (pod.spec.securityContext?.runAsNonRoot !== true) {
      errors.push(`${name(w)}: pods must run as a non-root user`);
    }
  }
  for (const s of objects.filter((o) => o.kind === "Service")) {
    const targets = workloads.filter((w) => selects(s.spec.selector,
      w.spec.template.metadata?.labels));
    if (targets.length === 0) {
      errors.push(`${name(s)}: selects no workload's pods`);
    }
    for (const port of s.spec.ports ?? []) {
      for (const w of targets) {
        const names = w.spec.template.spec.containers.flatMap((c) => c.ports ?? [])
          .map((p) => p.name);
        if (typeof port.targetPort === "string" && !names.includes(port.targetPort)) {
          errors.push(`${name(s)}: targetPort ${port.targetPort} is not a port of ${name(w)}`);
        }
      }
    }
  }
  for (const b of objects.filter((o) => o.kind === "PodDisruptionBudget")) {
    if (!workloads.some((w) => selects(b.spec.selector?.matchLabels,
      w.spec.template.metadata?.labels))) {
      errors.push(`${name(b)}: selects no workload's pods`);
    }
  }
  const roles = objects.filter((o) => o.kind === "Role");
  if (!roles.some((r) => r.rules.some((rule) => rule.resources.includes("pods")
      && rule.verbs.includes("list")))) {
    errors.push("no Role lets the pods list pods (Kubernetes API discovery)");
  }
  return errors;
}

async function check(label, text) {
  const documents = parseAllDocuments(text);
  const errors = [];
  const objects = [];
  for (const doc of documents) {
    if (doc.errors.length > 0) {
      errors.push(...doc.errors.map((e) => `YAML: ${e.message}`));
      continue;
    }
    const object = doc.toJSON();
    if (object) {
      objects.push(object);
    }
  }
  for (const object of objects) {
    for (const e of await schemaErrors(object)) {
      errors.push(`${name(object)}: ${e}`);
    }
  }
  errors.push(...consistencyErrors(objects));
  return { label, count: objects.length, errors };
}

/** Each check must reject a manifest broken in its way, or the check proves nothing. */
async function selfTest(text) {
  const breakages = {
    "a string where the schema wants an integer": (o) => o.kind === "Deployment"
      && (o.spec.replicas = "two"),
    "a Service port named but not on the pods": (o) => o.kind === "Service"
      && (o.spec.ports[0].targetPort = "grcp"),
    "pods without the bootstrap label": (o) => o.kind === "Deployment"
      && delete o.spec.template.metadata.labels[BOOTSTRAP_LABEL[0]],
    "a grace period shorter than the drain": (o) => o.kind === "Deployment"
      && (o.spec.template.spec.terminationGracePeriodSeconds = 10),
    "a readiness probe on an unnamed port": (o) => o.kind === "Deployment"
      && (o.spec.template.spec.containers[0].readinessProbe.httpGet.port = "mgmt"),
    "an unknown kind": (o) => o.kind === "PodDisruptionBudget" && (o.kind = "PodDisruptBudget"),
    "no Role to list pods": (o) => o.kind === "Role" && (o.rules[0].verbs = ["get"]),
  };
  let failed = 0;
  for (const [what, breakIt] of Object.entries(breakages)) {
    const objects = parseAllDocuments(text).map((d) => d.toJSON()).filter(Boolean);
    if (!objects.some((o) => breakIt(o))) {
      console.error(`self-test: nothing to break for ${what}`);
      failed++;
      continue;
    }
    const broken = objects.map((o) => JSON.stringify(o)).join("\n---\n");
    const result = await check(what, broken);
    if (result.errors.length === 0) {
      console.error(`self-test: ${what} was accepted`);
      failed++;
    } else {
      console.log(`self-test: ${what} rejected: ${result.errors[0]}`);
    }
  }
  return failed;
}

const args = process.argv.slice(2);
const input = readFileSync(0, "utf8");
if (args[0] === "--self-test") {
  process.exit((await selfTest(input)) === 0 ? 0 : 1);
}
const result = await check(args[0] ?? "stdin", input);
if (result.errors.length > 0) {
  console.error(`${result.label}: ${result.errors.length} problem(s) in ${result.count} objects:`);
  result.errors.forEach((e) => console.error(`  ${e}`));
  process.exit(1);
}
console.log(`${result.label}: ${result.count} objects valid`);
