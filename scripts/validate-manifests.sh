#!/usr/bin/env bash
# Validate Signet's deployment manifests offline: render manifests/ (the base), every
# overlay under manifests/overlays/, the overlay certs/generate-openssl.sh writes, and
# charts/signet with `helm template` (default values, each mode and certificate source, and
# charts/signet/ci/*.yaml; helm from scripts/tools.sh);
# validate each built-in object against the Kubernetes 1.30 and latest OpenAPI schemas
# (strict: unknown fields are errors), the CRD for structural-schema rules, the policies in
# the ConfigMap against the CRD, the cross-object wiring (Service <-> Deployment <->
# webhook <-> Secret ...), each overlay's intent, and the webhook's CEL matchConditions on
# sample requests.
#
# Rendering uses `kustomize build` or `kubectl kustomize` (kustomize v4+) when installed,
# and always a small built-in renderer too (enough for the kustomize features these files
# use); the two outputs must agree, so the check also works where kubectl is missing.
#
# Python dependencies go into target/manifest-venv (pip needs the package index the first
# time only). Prints one line per object and check, and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

venv=target/manifest-venv
requirements=(kubernetes-validate==1.37.0 PyYAML==6.0.3 jsonpatch==1.47 cel-python==0.5.0)
stamp="$venv/.requirements"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${requirements[*]}" ]; then
  rm -rf "$venv"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    # Debian's python3 ships venv separately.
    if command -v apt-get >/dev/null 2>&1; then
      sudo_cmd=""
      [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
      export DEBIAN_FRONTEND=noninteractive
      $sudo_cmd apt-get update -qq
      $sudo_cmd apt-get install -y -qq --no-install-recommends python3-venv
    fi
    rm -rf "$venv"
    python3 -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${requirements[@]}"
  echo "${requirements[*]}" >"$stamp"
fi

exec "$venv/bin/python" - <<'PY'
import base64
import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

import celpy
import jsonpatch
import jsonschema
import kubernetes_validate
import yaml

ROOT = os.getcwd()
# Every Kubernetes minor from 1.30 (the oldest supported: preStop sleep, matchConditions)
# to the newest whose schemas kubernetes-validate ships.
K8S_VERSIONS = sorted({v for v in kubernetes_validate.utils.all_versions()
                       if tuple(int(x) for x in v.split(".")[:2]) >= (1, 30)},
                      key=lambda v: tuple(int(x) for x in v.split(".")))
K8S_RANGE = f"k8s {K8S_VERSIONS[0].rsplit('.', 1)[0]}-{K8S_VERSIONS[-1].rsplit('.', 1)[0]}"
CHECK_DIR = os.path.join(ROOT, "target", "manifest-check")

passed = 0
failures = []
# Checks every render repeats (wiring, CRD, policies, CEL) are listed for the base only;
# other renders count their passes into one line and list failures.
quiet = False
quiet_passed = 0


def ok(line):
    global passed, quiet_passed
    passed += 1
    if quiet:
        quiet_passed += 1
    else:
        print(f"ok    {line}")


def fail(line):
    failures.append(line)
    print(f"FAIL  {line}")


def check(condition, line, detail=""):
    if condition:
        ok(line)
    else:
        fail(f"{line}{': ' + detail if detail else ''}")
    return condition


# ---------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------

class Unsupported(Exception):
    pass


CLUSTER_SCOPED = {
    "Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding",
    "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "PriorityClass",
    "StorageClass", "PersistentVolume", "APIService", "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding", "ClusterIssuer", "ClusterImagePolicy", "FlowSchema",
    "PriorityLevelConfiguration",
}
KUSTOMIZATION_KEYS = {"apiVersion", "kind", "namespace", "resources", "components", "patches",
                      "configMapGenerator"}


def group_version(obj):
    api = obj.get("apiVersion", "")
    return tuple(api.split("/", 1)) if "/" in api else ("", api)


def inside(root, path):
    return os.path.commonpath([os.path.realpath(root), os.path.realpath(path)]) == os.path.realpath(root)


def target_matches(obj, target):
    group, version = group_version(obj)
    meta = obj.get("metadata", {})
    for key, actual in (("group", group), ("version", version), ("kind", obj.get("kind")),
                        ("name", meta.get("name")), ("namespace", meta.get("namespace"))):
        if key in target and target[key] != actual:
            return False
    extra = set(target) - {"group", "version", "kind", "name", "namespace"}
    if extra:
        raise Unsupported(f"patch target fields {sorted(extra)}")
    return True


def merge_maps(base, patch, where):
    """Strategic merge for patches made of maps only (what the overlays use)."""
    for key, value in patch.items():
        if key.startswith("$"):
            raise Unsupported(f"directive {key} in a strategic merge patch ({where})")
        if isinstance(value, list):
            raise Unsupported(f"list under {key} in a strategic merge patch ({where})")
        if value is None:
            base.pop(key, None)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            merge_maps(base[key], value, where)
        else:
            base[key] = copy.deepcopy(value)


def config_map_hash(data):
    """kustomize's name suffix of a generated ConfigMap: the first 40 bits of the SHA-256 of Go's
    JSON of {kind, name, data}, vowel-like hex digits replaced. kustomize reads the name as "" at
    that point (its path lookup of metadata/name finds nothing), so the hash covers the content."""
    encoded = json.dumps({"data": data, "kind": "ConfigMap", "name": ""}, sort_keys=True,
                         separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        encoded = encoded.replace(char, escaped)
    digest = hashlib.sha256(encoded.encode()).hexdigest()[:10]
    return digest.translate(str.maketrans("013ae", "ghkmt"))


def generate_config_maps(directory, kustomization, objects):
    """configMapGenerator with `files` (and options.labels): hashed names, and the volumes that
    named the generator's name renamed to it."""
    for generator in kustomization.get("configMapGenerator", []):
        unknown = set(generator) - {"name", "namespace", "files", "options"}
        if unknown or set(generator.get("options", {})) - {"labels"}:
            raise Unsupported(f"configMapGenerator fields {sorted(unknown)} or options")
        data = {}
        for entry in generator.get("files", []):
            key, _, file = entry.rpartition("=")
            file_path = os.path.join(directory, file)
            if not inside(directory, file_path):
                raise ValueError(f"{file} is outside {directory}")
            with open(file_path) as f:
                data[key or os.path.basename(file)] = f.read()
        name = f"{generator['name']}-{config_map_hash(data)}"
        metadata = {"name": name}
        if generator.get("namespace"):
            metadata["namespace"] = generator["namespace"]
        if generator.get("options", {}).get("labels"):
            metadata["labels"] = dict(generator["options"]["labels"])
        for obj in objects:
            for volume in obj.get("spec", {}).get("template", {}).get("spec", {}).get("volumes", []):
                if volume.get("configMap", {}).get("name") == generator["name"]:
                    volume["configMap"]["name"] = name
        objects.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data})


def render_builtin(directory, accumulated=None):
    """The objects of the kustomization (or, with `accumulated`, the Component) in `directory`:
    resources, then components, then generators, the namespace and patches, as kustomize orders
    them."""
    path = os.path.join(directory, "kustomization.yaml")
    with open(path) as f:
        kustomization = yaml.safe_load(f) or {}
    unknown = set(kustomization) - KUSTOMIZATION_KEYS
    if unknown:
        raise Unsupported(f"{os.path.relpath(path, ROOT)}: fields {sorted(unknown)}")
    if (kustomization.get("kind") == "Component") != (accumulated is not None):
        raise ValueError(f"{os.path.relpath(path, ROOT)}: a Component only under components:")
    objects = accumulated if accumulated is not None else []
    for resource in kustomization.get("resources", []):
        resource_path = os.path.normpath(os.path.join(directory, resource))
        if os.path.isdir(resource_path):
            objects += render_builtin(resource_path)
        else:
            if not inside(directory, resource_path):
                raise ValueError(f"{resource} is outside {directory}")
            with open(resource_path) as f:
                objects += [o for o in yaml.safe_load_all(f) if o is not None]
    for component in kustomization.get("components", []):
        objects = render_builtin(os.path.normpath(os.path.join(directory, component)), objects)
    generate_config_maps(directory, kustomization, objects)
    namespace = kustomization.get("namespace")
    if namespace:
        # As kustomize does: namespaced objects, Namespace objects themselves, ServiceAccount
        # subjects, and webhook clientConfigs that name a Service of this kustomization.
        services = {(o["metadata"]["name"], o["metadata"].get("namespace")) for o in objects
                    if o.get("kind") == "Service"}
        for obj in objects:
            if obj.get("kind") == "Namespace":
                obj["metadata"]["name"] = namespace
            elif obj.get("kind") not in CLUSTER_SCOPED:
                obj.setdefault("metadata", {})["namespace"] = namespace
            if obj.get("kind") in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
                for hook in obj.get("webhooks", []):
                    service = hook.get("clientConfig", {}).get("service")
                    if service and (service.get("name"), service.get("namespace")) in services:
                        service["namespace"] = namespace
            if obj.get("kind") in ("RoleBinding", "ClusterRoleBinding"):
                for subject in obj.get("subjects", []):
                    if subject.get("kind") == "ServiceAccount":
                        subject["namespace"] = namespace
    for index, entry in enumerate(kustomization.get("patches", [])):
        where = f"{os.path.relpath(path, ROOT)} patches[{index}]"
        if "path" in entry:
            patch_path = os.path.join(directory, entry["path"])
            if not inside(directory, patch_path):
                raise ValueError(f"{where}: {entry['path']} is outside {directory}")
            with open(patch_path) as f:
                body = yaml.safe_load(f)
        else:
            body = yaml.safe_load(entry["patch"])
        target = entry.get("target")
        if target is None:
            if not isinstance(body, dict):
                raise ValueError(f"{where}: a JSON 6902 patch needs a target")
            target = {"kind": body.get("kind"), "name": body.get("metadata", {}).get("name")}
        hits = [i for i, o in enumerate(objects) if target_matches(o, target)]
        # kustomize applies a patch to every object its target selects, possibly none (certs/out
        # patches a MutatingWebhookConfiguration that only components/mutate adds).
        if isinstance(body, dict) and body.get("$patch") == "delete":
            objects = [o for i, o in enumerate(objects) if i not in hits]
            continue
        for i in hits:
            if isinstance(body, list):
                objects[i] = jsonpatch.apply_patch(objects[i], body)
            else:
                merge_maps(objects[i], body, where)
    return objects


def kustomize_command():
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        try:
            out = subprocess.run(["kubectl", "version", "--client", "-o", "json"],
                                 capture_output=True, text=True, timeout=60).stdout
            version = json.loads(out).get("kustomizeVersion", "")
        except (ValueError, subprocess.SubprocessError):
            version = ""
        match = re.match(r"v(\d+)", version)
        if match and int(match.group(1)) >= 4:
            return ["kubectl", "kustomize"]
    return None


def object_key(obj):
    meta = obj.get("metadata", {})
    return (obj.get("apiVersion"), obj.get("kind"), meta.get("namespace", ""), meta.get("name"))


def describe(obj):
    meta = obj.get("metadata", {})
    name = f"{meta['namespace']}/{meta.get('name')}" if meta.get("namespace") else meta.get("name")
    return f"{obj.get('apiVersion')} {obj.get('kind')} {name}"


def render(label, directory, tool):
    """Objects of one kustomization, or None after reporting why not."""
    builtin_objects, tool_objects = None, None
    try:
        builtin_objects = render_builtin(directory)
    except (Unsupported, ValueError, OSError, yaml.YAMLError, jsonpatch.JsonPatchException,
            jsonpatch.JsonPointerException) as error:
        fail(f"[{label}] built-in renderer: {error}")
    if tool:
        result = subprocess.run(tool + [directory], capture_output=True, text=True)
        if result.returncode != 0:
            fail(f"[{label}] {' '.join(tool)}: {result.stderr.strip()}")
        else:
            tool_objects = [o for o in yaml.safe_load_all(result.stdout) if o is not None]
    if builtin_objects is not None and tool_objects is not None:
        a = {object_key(o): o for o in builtin_objects}
        b = {object_key(o): o for o in tool_objects}
        differing = sorted(str(k) for k in set(a) | set(b) if a.get(k) != b.get(k))
        check(not differing, f"[{label}] built-in renderer agrees with {' '.join(tool)}",
              ", ".join(differing))
    objects = tool_objects if tool_objects is not None else builtin_objects
    if objects is not None:
        print(f"      [{label}] rendered {len(objects)} objects from "
              f"{os.path.relpath(directory, ROOT)} with "
              f"{' '.join(tool) if tool_objects is not None else 'the built-in renderer'}")
    return objects


def helm_command():
    """.tools/helm-<version>/helm (scripts/tools.sh), or helm on PATH."""
    tools = os.environ.get("SIGNET_TOOLS", os.path.join(ROOT, ".tools"))
    built = sorted(os.path.join(tools, d, "helm") for d in (os.listdir(tools) if os.path.isdir(tools) else [])
                   if d.startswith("helm-v") and os.path.exists(os.path.join(tools, d, ".done")))
    return built[-1] if built else shutil.which("helm")


def render_helm(label, helm, args):
    """Objects of `helm template signet charts/signet -n signet-system --include-crds ARGS`."""
    result = subprocess.run([helm, "template", "signet", os.path.join(ROOT, "charts", "signet"),
                             "--namespace", "signet-system", "--include-crds"] + args,
                            capture_output=True, text=True,
                            env={**os.environ, "HELM_CONFIG_HOME": os.path.join(CHECK_DIR, "helm"),
                                 "HELM_CACHE_HOME": os.path.join(CHECK_DIR, "helm"),
                                 "HELM_DATA_HOME": os.path.join(CHECK_DIR, "helm")})
    if result.returncode != 0:
        fail(f"[{label}] helm template {' '.join(args)}: {result.stderr.strip()}")
        return None
    objects = [o for o in yaml.safe_load_all(result.stdout) if o is not None]
    print(f"      [{label}] rendered {len(objects)} objects from charts/signet with helm template {' '.join(args)}")
    return objects


# ---------------------------------------------------------------------------------------
# Schemas
# ---------------------------------------------------------------------------------------

PARSE_ONLY_GROUPS = {"cert-manager.io", "monitoring.coreos.com"}  # CRD-backed kinds: no schema shipped here


def validate_object(label, obj):
    if not all([obj.get("apiVersion"), obj.get("kind"), obj.get("metadata", {}).get("name")]):
        fail(f"[{label}] object without apiVersion, kind or metadata.name: {obj}")
        return
    group, _ = group_version(obj)
    if group in PARSE_ONLY_GROUPS:
        check(isinstance(obj.get("spec"), dict), f"[{label}] {describe(obj)} (custom resource: parsed)",
              "no spec")
        return
    problems = []
    for version in K8S_VERSIONS:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(p) for p in error.path) or "(top)"
            problems.append(f"k8s {version}: {path}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            problems.append(error.message)
    check(not problems, f"[{label}] {describe(obj)} ({K8S_RANGE})", "; ".join(problems))


def structural_problems(schema, path="openAPIV3Schema"):
    """The structural-schema rules the apiserver enforces on CRDs (the common ones)."""
    problems = []
    preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
    if "type" not in schema and not preserve and not schema.get("x-kubernetes-int-or-string"):
        problems.append(f"{path}: no type")
    if "properties" in schema and schema.get("type") != "object":
        problems.append(f"{path}: properties on a non-object")
    if "properties" in schema and "additionalProperties" in schema:
        problems.append(f"{path}: properties and additionalProperties together")
    if schema.get("type") == "array" and "items" not in schema:
        problems.append(f"{path}: array without items")
    if schema.get("type") == "object" and "properties" not in schema and not preserve \
            and "additionalProperties" not in schema:
        problems.append(f"{path}: object with no properties would prune everything")
    for name, sub in schema.get("properties", {}).items():
        problems += structural_problems(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        problems += structural_problems(schema["items"], f"{path}[]")
    return problems


def as_json_schema(schema):
    """A CRD schema as JSON Schema that also rejects fields the apiserver would prune."""
    out = {k: v for k, v in schema.items() if not k.startswith("x-kubernetes-") and k not in ("format",)}
    if "properties" in schema:
        out["properties"] = {k: as_json_schema(v) for k, v in schema["properties"].items()}
        if not schema.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    if isinstance(schema.get("items"), dict):
        out["items"] = as_json_schema(schema["items"])
    return out


CRD_REQUIRED_PATHS = [
    "spec.images[].glob", "spec.mode", "spec.onRegistryError", "spec.policy", "spec.match",
    "spec.authorities[].name", "spec.authorities[].key.data", "spec.authorities[].key.kms",
    "spec.authorities[].key.secretRef.name", "spec.authorities[].key.hashAlgorithm",
    "spec.authorities[].keyless.url", "spec.authorities[].keyless.identities[].issuer",
    "spec.authorities[].keyless.identities[].subject",
    "spec.authorities[].keyless.identities[].issuerRegExp",
    "spec.authorities[].keyless.identities[].subjectRegExp",
    "spec.authorities[].keyless.ca-cert.data", "spec.authorities[].keyless.trustRootRef",
    "spec.authorities[].keyless.insecureIgnoreSCT", "spec.authorities[].static.action",
    "spec.authorities[].static.message", "spec.authorities[].source[].oci",
    "spec.authorities[].source[].signaturePullSecrets[].name",
    "spec.authorities[].source[].tagPrefix", "spec.authorities[].ctlog.url",
    "spec.authorities[].ctlog.trustRootRef", "spec.authorities[].attestations[].predicateType",
    "spec.authorities[].rfc3161timestamp.trustRootRef",
    "spec.authorities[].signedIdentity.type", "spec.authorities[].signedIdentity.dockerRepository",
    "spec.authorities[].signedIdentity.prefix", "spec.authorities[].signedIdentity.signedPrefix",
]


def schema_at(schema, dotted):
    node = schema
    for part in re.findall(r"[^.\[\]]+|\[\]", dotted):
        node = node.get("items") if part == "[]" else node.get("properties", {}).get(part)
        if node is None:
            return None
    return node


def check_crd(label, crd):
    name = crd["metadata"]["name"]
    versions = crd["spec"].get("versions", [])
    schemas = [v.get("schema", {}).get("openAPIV3Schema") for v in versions]
    check(sum(1 for v in versions if v.get("storage")) == 1, f"[{label}] CRD {name}: one storage version")
    check(all(s == schemas[0] for s in schemas),
          f"[{label}] CRD {name}: all versions share one schema (conversion None is lossless)")
    check(crd["spec"].get("conversion", {}).get("strategy", "None") == "None",
          f"[{label}] CRD {name}: no conversion webhook")
    for version, schema in zip(versions, schemas):
        problems = structural_problems(schema or {})
        check(not problems, f"[{label}] CRD {name} {version['name']}: structural schema", "; ".join(problems))
    missing = [p for p in CRD_REQUIRED_PATHS if schema_at(schemas[0], p) is None]
    check(not missing, f"[{label}] CRD {name}: policy-controller fields and Signet extensions present",
          ", ".join(missing))
    enums = {
        "spec.mode": ["enforce", "warn"],
        "spec.onRegistryError": ["deny", "warn"],
        "spec.authorities[].signedIdentity.type":
            ["matchRepository", "exactRepository", "remapIdentity", "anyRepository"],
    }
    wrong = [p for p, e in enums.items() if (schema_at(schemas[0], p) or {}).get("enum") != e]
    check(not wrong, f"[{label}] CRD {name}: enums", ", ".join(wrong))


def check_policies(label, objects, crd):
    group = crd["spec"]["group"]
    kind = crd["spec"]["names"]["kind"]
    schemas = {f"{group}/{v['name']}": v["schema"]["openAPIV3Schema"] for v in crd["spec"]["versions"]}
    for cm in objects:
        if cm.get("kind") != "ConfigMap" or not re.fullmatch(r"signet-policies(-[a-z0-9]{10})?",
                                                              cm["metadata"]["name"]):
            continue
        for key, text in (cm.get("data") or {}).items():
            try:
                docs = [d for d in yaml.safe_load_all(text) if d is not None]
            except yaml.YAMLError as error:
                fail(f"[{label}] ConfigMap signet-policies {key}: {error}")
                continue
            check(bool(docs), f"[{label}] ConfigMap signet-policies {key}: has policies")
            for doc in docs:
                if doc.get("kind") != kind or doc.get("apiVersion") not in schemas:
                    fail(f"[{label}] ConfigMap signet-policies {key}: {doc.get('apiVersion')} "
                         f"{doc.get('kind')} is not a {kind} of a served version")
                    continue
                schema = copy.deepcopy(schemas[doc["apiVersion"]])
                schema["properties"].update(apiVersion={"type": "string"}, kind={"type": "string"},
                                            metadata={"type": "object"})
                errors = sorted(jsonschema.Draft7Validator(as_json_schema(schema)).iter_errors(doc),
                                key=lambda e: list(e.path))
                details = "; ".join(f"{'.'.join(map(str, e.path)) or '(top)'}: {e.message}" for e in errors)
                check(not errors, f"[{label}] {doc['apiVersion']} {kind} {doc['metadata'].get('name')} "
                                  f"(ConfigMap signet-policies/{key}, against the CRD)", details)


# ---------------------------------------------------------------------------------------
# Wiring between objects
# ---------------------------------------------------------------------------------------

def find(objects, kind, name=None):
    hits = [o for o in objects if o.get("kind") == kind and (name is None or o["metadata"]["name"] == name)]
    return hits[0] if len(hits) == 1 else None


def selects(selector, labels):
    if not selector:
        return False
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    return not selector.get("matchExpressions")


def flag(args, name):
    for arg in args:
        if arg == name or arg.startswith(name + "="):
            return arg.split("=", 1)[1] if "=" in arg else True
    return None


REQUIRED_RULES = {
    ("", "pods"), ("", "pods/ephemeralcontainers"), ("", "replicationcontrollers"), ("", "podtemplates"),
    ("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"), ("apps", "daemonsets"),
    ("batch", "jobs"), ("batch", "cronjobs"),
}


def check_wiring(label, objects):
    deployment = find(objects, "Deployment", "signet")
    if not check(deployment is not None, f"[{label}] Deployment signet present"):
        return None
    ns = deployment["metadata"]["namespace"]
    pod = deployment["spec"]["template"]
    pod_labels = pod["metadata"]["labels"]
    container = pod["spec"]["containers"][0]
    args = container.get("args", [])
    port_names = {p["name"]: p["containerPort"] for p in container.get("ports", [])}

    wrong_ns = [describe(o) for o in objects
                if o["kind"] not in CLUSTER_SCOPED and o["metadata"].get("namespace") != ns]
    check(not wrong_ns, f"[{label}] every namespaced object is in {ns}", ", ".join(wrong_ns))
    check(find(objects, "Namespace", ns) is not None, f"[{label}] Namespace {ns} is created")
    check(selects(deployment["spec"]["selector"], pod_labels), f"[{label}] Deployment selector matches its pods")

    service = find(objects, "Service", "signet")
    if check(service is not None, f"[{label}] Service signet present"):
        check(all(pod_labels.get(k) == v for k, v in service["spec"]["selector"].items()),
              f"[{label}] Service selects the Deployment's pods")
        missing = [p["targetPort"] for p in service["spec"]["ports"] if p["targetPort"] not in port_names]
        check(not missing, f"[{label}] Service targetPorts are container ports", str(missing))

    for kind in ("PodDisruptionBudget", "NetworkPolicy"):
        obj = find(objects, kind)
        if check(obj is not None, f"[{label}] {kind} present"):
            selector = obj["spec"]["selector"] if kind == "PodDisruptionBudget" else obj["spec"]["podSelector"]
            check(selects(selector, pod_labels), f"[{label}] {kind} selects the Deployment's pods")

    policy = find(objects, "NetworkPolicy")
    if policy:
        rules = policy["spec"].get("ingress", [])
        open_ports = {p["port"] for rule in rules if not rule.get("from") for p in rule.get("ports", [])}
        # charts/signet's networkPolicy.webhookFrom: only the API server's addresses.
        from_blocks = {p["port"] for rule in rules
                       if rule.get("from") and all("ipBlock" in peer for peer in rule["from"])
                       for p in rule.get("ports", [])}
        check(bool({port_names.get("https"), "https"} & (open_ports | from_blocks)),
              f"[{label}] NetworkPolicy admits reviews on the https port (from anywhere or from address blocks)")

    sa_name = pod["spec"].get("serviceAccountName")
    check(find(objects, "ServiceAccount", sa_name) is not None, f"[{label}] ServiceAccount {sa_name} present")
    binding = find(objects, "ClusterRoleBinding", "signet")
    check(binding is not None and {"kind": "ServiceAccount", "name": sa_name, "namespace": ns} in binding["subjects"]
          and find(objects, "ClusterRole", binding["roleRef"]["name"]) is not None,
          f"[{label}] ClusterRole bound to ServiceAccount {ns}/{sa_name}")

    volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
    mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
    check(not any("subPath" in m for m in mounts.values()),
          f"[{label}] no subPath mounts (the kubelet would never update them)")
    tls_dir = os.path.dirname(flag(args, "--tls-cert") or "")
    tls_volume = volumes.get(mounts.get(tls_dir, {}).get("name"), {})
    check(tls_volume.get("secret", {}).get("secretName") == "signet-tls",
          f"[{label}] --tls-cert is read from the mounted Secret signet-tls")
    if flag(args, "--policy") is None:
        # charts/signet with policies.source none: the cluster's policy objects only.
        check(flag(args, "--watch-policies") is True, f"[{label}] no --policy: --watch-policies instead")
    else:
        policy_volume = volumes.get(mounts.get(flag(args, "--policy") or "", {}).get("name"), {})
        cm_name = policy_volume.get("configMap", {}).get("name")
        check(cm_name is not None and find(objects, "ConfigMap", cm_name) is not None,
              f"[{label}] --policy is the mounted ConfigMap {cm_name}")
    check(flag(args, "--listen") == f"0.0.0.0:{port_names.get('https')}"
          and flag(args, "--metrics-listen") == f"0.0.0.0:{port_names.get('metrics')}",
          f"[{label}] listen addresses match the container ports")
    for probe in ("readinessProbe", "livenessProbe"):
        get = container.get(probe, {}).get("httpGet", {})
        check(get.get("scheme") == "HTTPS" and get.get("port") in ("https", port_names.get("https")),
              f"[{label}] {probe} is HTTPS on the review port")
    grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
    pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    shutdown = int(flag(args, "--shutdown-grace") or 20)
    delay = int(flag(args, "--shutdown-delay") or 5)
    check(grace > pre_stop + delay + shutdown,
          f"[{label}] terminationGracePeriodSeconds {grace} > preStop {pre_stop} + shutdown-delay {delay} + shutdown-grace {shutdown}")
    priority = pod["spec"].get("priorityClassName", "")
    if priority in ("system-cluster-critical", "system-node-critical"):
        quotas = [q for q in objects if q["kind"] == "ResourceQuota"
                  for e in q["spec"].get("scopeSelector", {}).get("matchExpressions", [])
                  if e.get("scopeName") == "PriorityClass" and priority in e.get("values", [])]
        check(bool(quotas), f"[{label}] a ResourceQuota admits priority class {priority}")

    vwc = find(objects, "ValidatingWebhookConfiguration", "signet")
    if not check(vwc is not None, f"[{label}] ValidatingWebhookConfiguration signet present"):
        return None
    for hook in vwc["webhooks"]:
        name = hook["name"]
        svc = hook["clientConfig"].get("service", {})
        service_ports = [p["port"] for p in service["spec"]["ports"]] if service else []
        check(service is not None and svc.get("name") == service["metadata"]["name"]
              and svc.get("namespace") == ns and svc.get("port", 443) in service_ports
              and svc.get("path") == "/validate",
              f"[{label}] {name}: calls Service {ns}/signet /validate on a Service port")
        review_timeout = float(flag(args, "--review-timeout") or 8)
        check(review_timeout < hook.get("timeoutSeconds", 10),
              f"[{label}] {name}: --review-timeout {review_timeout:g} < timeoutSeconds {hook.get('timeoutSeconds')}")
        rules = {(g, r) for rule in hook["rules"] for g in rule["apiGroups"] for r in rule["resources"]
                 if {"CREATE", "UPDATE"} <= set(rule["operations"])}
        missing = REQUIRED_RULES - rules
        check(not missing, f"[{label}] {name}: reviews CREATE and UPDATE of every pod-carrying kind",
              str(sorted(missing)))
        excluded = {v for e in hook.get("namespaceSelector", {}).get("matchExpressions", [])
                    if e["key"] == "kubernetes.io/metadata.name" and e["operator"] == "NotIn"
                    for v in e["values"]}
        check({ns, "kube-system"} <= excluded,
              f"[{label}] {name}: never reviews {ns} or kube-system (no self-deadlock)")
        check(hook.get("sideEffects") in ("None", "NoneOnDryRun") and hook.get("admissionReviewVersions") == ["v1"],
              f"[{label}] {name}: sideEffects None or NoneOnDryRun, AdmissionReview v1")
        check("objectSelector" not in hook, f"[{label}] {name}: no objectSelector (object labels are user-set)")
        check_match_conditions(label, hook)
    return {"deployment": deployment, "args": args, "vwc": vwc, "ns": ns}


# ---------------------------------------------------------------------------------------
# CEL matchConditions
# ---------------------------------------------------------------------------------------

def _pod(image="ghcr.io/o/app@sha256:" + "a" * 64, **extra):
    spec = {"containers": [{"name": "app", "image": image}]}
    spec.update(extra)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "1"}}, "spec": spec}


def _deployment(image="ghcr.io/o/app:v1", replicas=1):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "c", "image": image}]}}}}


def _relabelled(obj, **changes):
    new = copy.deepcopy(obj)
    new["metadata"].update(changes)
    return new


POD = _pod()
DEPLOYMENT = _deployment()
TEMPLATE = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"},
            "template": {"spec": {"containers": [{"name": "c", "image": "ghcr.io/o/app:v1"}]}}}
CRONJOB = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
           "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
               "containers": [{"name": "c", "image": "ghcr.io/o/app:v1"}]}}}}}}
MIRROR = _relabelled(POD, annotations={"kubernetes.io/config.mirror": "abc"})
NODE = {"username": "system:node:n1", "groups": ["system:nodes", "system:authenticated"]}
# (description, operation, object, oldObject, must Signet be called?[, userInfo, subresource])
CEL_CASES = [
    ("CREATE of a pod", "CREATE", POD, None, True),
    ("UPDATE of a pod's image", "UPDATE", _pod("evil.example/x:latest"), POD, True),
    ("UPDATE adding an ephemeral container", "UPDATE",
     _pod(ephemeralContainers=[{"name": "debug", "image": "busybox"}]), POD, True),
    ("UPDATE of an image volume", "UPDATE",
     _pod(volumes=[{"name": "m", "image": {"reference": "evil.example/m:1"}}]), POD, True),
    ("UPDATE of a Deployment's template image", "UPDATE", _deployment("evil.example/x"), DEPLOYMENT, True),
    ("UPDATE of a Deployment's replicas (a scale)", "UPDATE", _deployment(replicas=3), DEPLOYMENT, False),
    ("UPDATE of a CronJob's schedule", "UPDATE",
     {**CRONJOB, "spec": {**CRONJOB["spec"], "schedule": "0 * * * *"}}, CRONJOB, False),
    ("UPDATE of a CronJob's image", "UPDATE",
     {**CRONJOB, "spec": {**CRONJOB["spec"], "jobTemplate": {"spec": {"template": {"spec": {
         "containers": [{"name": "c", "image": "evil.example/x"}]}}}}}}, CRONJOB, True),
    ("CREATE of a mirror pod by its node", "CREATE", MIRROR, None, False, NODE),
    ("CREATE of a mirror-annotated pod by a user", "CREATE", MIRROR, None, True),
    ("CREATE of an ordinary pod by a node", "CREATE", POD, None, True, NODE),
    ("ephemeral container on a mirror pod by its node", "UPDATE",
     {**MIRROR, "spec": {**MIRROR["spec"], "ephemeralContainers": [{"name": "d", "image": "busybox"}]}},
     MIRROR, True, NODE, "ephemeralcontainers"),
    ("UPDATE of a PodTemplate (no .spec)", "UPDATE", TEMPLATE, TEMPLATE, True),
    ("UPDATE of a pod's labels only", "UPDATE", _relabelled(POD, labels={"a": "2"}), POD, False),
    ("UPDATE removing a pod's finalizers", "UPDATE", POD, _relabelled(POD, finalizers=["x/y"]), False),
    ("UPDATE of a Deployment's annotations only", "UPDATE",
     _relabelled(DEPLOYMENT, annotations={"k": "v"}), DEPLOYMENT, False),
]


def check_match_conditions(label, hook):
    conditions = hook.get("matchConditions", [])
    if not conditions:
        return
    env = celpy.Environment()
    programs = []
    for condition in conditions:
        try:
            programs.append((condition["name"], env.program(env.compile(condition["expression"]))))
        except Exception as error:  # celpy raises its own error types
            fail(f"[{label}] {hook['name']}: matchCondition {condition['name']} does not compile: {error}")
            return
    wrong = []
    for description, operation, obj, old, expected, *who in CEL_CASES:
        user = who[0] if who else {"username": "alice", "groups": ["system:authenticated"]}
        plural = obj["kind"].lower() + "s"
        # As the API server builds it: subResource is absent, not "", when there is none.
        request = {"operation": operation, "userInfo": user,
                   "resource": {"group": "", "version": "v1", "resource": plural}}
        if len(who) > 1:
            request["subResource"] = who[1]
        activation = celpy.json_to_cel({"request": request, "object": obj, "oldObject": old})
        called = True
        for name, program in programs:
            try:
                result = program.evaluate(activation)
            except Exception as error:
                result = error
            if not isinstance(result, celpy.celtypes.BoolType):
                wrong.append(f"{description}: {name} gave {result!r} (an error rejects the request)")
                break
            called = called and bool(result)
        else:
            if called != expected:
                wrong.append(f"{description}: {'reviewed' if called else 'skipped'}")
    check(not wrong, f"[{label}] {hook['name']}: matchConditions skip only UPDATEs that keep the pod spec, and nodes' mirror pods "
                     f"({len(CEL_CASES)} sample requests)", "; ".join(wrong))


# ---------------------------------------------------------------------------------------
# What each overlay is for
# ---------------------------------------------------------------------------------------

def webhook(wired):
    return wired["vwc"]["webhooks"][0]


def expect_base(label, objects, wired, _):
    check(webhook(wired)["failurePolicy"] == "Fail" and flag(wired["args"], "--dry-run") is None,
          f"[{label}] enforcing: failurePolicy Fail, no --dry-run")


def expect_audit(label, objects, wired, _):
    check(flag(wired["args"], "--dry-run") is True, f"[{label}] container runs with --dry-run")
    check(all(h["failurePolicy"] == "Ignore" for h in wired["vwc"]["webhooks"]),
          f"[{label}] failurePolicy Ignore")


def expect_cert_manager(label, objects, wired, _):
    annotation = wired["vwc"]["metadata"].get("annotations", {}).get("cert-manager.io/inject-ca-from", "")
    ns, _, cert_name = annotation.partition("/")
    cert = find([o for o in objects if o["apiVersion"].startswith("cert-manager.io/")], "Certificate", cert_name)
    check(ns == wired["ns"] and cert is not None, f"[{label}] caBundle injected from Certificate {annotation}")
    if cert:
        check(cert["spec"].get("secretName") == "signet-tls", f"[{label}] {cert_name} is written to Secret signet-tls")
        names = {f"signet.{ns}.svc", f"signet.{ns}.svc.cluster.local"}
        check(names <= set(cert["spec"].get("dnsNames", [])), f"[{label}] {cert_name} names the Service")
        issuer = find(objects, cert["spec"]["issuerRef"].get("kind", "Issuer"), cert["spec"]["issuerRef"]["name"])
        check(issuer is not None, f"[{label}] issuer of {cert_name} is part of the overlay")
    excluded = {v for e in webhook(wired).get("namespaceSelector", {}).get("matchExpressions", [])
                if e["key"] == "kubernetes.io/metadata.name" and e["operator"] == "NotIn" for v in e["values"]}
    check("cert-manager" in excluded, f"[{label}] cert-manager (which renews the certificate) is never reviewed")


def expect_ca_bundle(label, objects, wired, out_dir):
    bundle = webhook(wired)["clientConfig"].get("caBundle", "")
    with open(os.path.join(out_dir, "ca.crt"), "rb") as f:
        ca = f.read()
    check(base64.b64decode(bundle) == ca, f"[{label}] caBundle is the generated CA")
    result = subprocess.run(["openssl", "verify", "-CAfile", os.path.join(out_dir, "ca.crt"),
                             os.path.join(out_dir, "tls.crt")], capture_output=True, text=True)
    check(result.returncode == 0, f"[{label}] openssl verify: serving certificate chains to the CA",
          result.stderr.strip())
    text = subprocess.run(["openssl", "x509", "-in", os.path.join(out_dir, "tls.crt"), "-noout", "-text"],
                          capture_output=True, text=True).stdout
    ns = wired["ns"]
    sans = set(re.findall(r"DNS:([^,\s]+)", text))
    check(sans == {f"signet.{ns}.svc", f"signet.{ns}.svc.cluster.local"}, f"[{label}] serving certificate SANs",
          str(sorted(sans)))
    check("prime256v1" in text or "P-256" in text, f"[{label}] ECDSA P-256 keys")


def expect_generated_ca_bundle(label, objects, wired, _):
    secret = find(objects, "Secret", "signet-tls")
    if not check(secret is not None, f"[{label}] Secret signet-tls generated"):
        return
    bundles = {h["clientConfig"].get("caBundle") for o in objects
               if o["kind"] in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")
               for h in o["webhooks"]}
    check(bundles == {secret["data"]["ca.crt"]}, f"[{label}] every caBundle is the Secret's ca.crt")


def expect_platform(label, objects, wired, extra):
    """charts/signet/ci/platform-values.yaml: warn mode, the company's ClusterIssuer, pinned image."""
    expect_audit(label, objects, wired, extra)
    annotation = wired["vwc"]["metadata"].get("annotations", {}).get("cert-manager.io/inject-ca-from", "")
    cert = find(objects, "Certificate", annotation.partition("/")[2])
    check(cert is not None and cert["spec"]["issuerRef"].get("kind") == "ClusterIssuer"
          and cert["spec"].get("secretName") == "signet-tls",
          f"[{label}] caBundle injected from {annotation}, issued by a ClusterIssuer into signet-tls")
    image = wired["deployment"]["spec"]["template"]["spec"]["containers"][0]["image"]
    check(re.search(r"@sha256:[0-9a-f]{64}$", image) is not None, f"[{label}] image pinned by digest: {image}")


# ---------------------------------------------------------------------------------------

def expect_injected_everywhere(label, objects, wired, _):
    hooks = [o for o in objects if o["kind"] in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")]
    check(len(hooks) == 2 and all(h["metadata"].get("annotations", {}).get("cert-manager.io/inject-ca-from")
                                  for h in hooks),
          f"[{label}] cert-manager injects the caBundle of both webhook configurations")


def expect_ca_bundle_everywhere(label, objects, wired, out_dir):
    with open(os.path.join(out_dir, "ca.crt"), "rb") as f:
        ca = f.read()
    hooks = [h for o in objects if o["kind"] in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")
             for h in o["webhooks"]]
    check(len(hooks) == 2 and all(base64.b64decode(h["clientConfig"].get("caBundle", "")) == ca for h in hooks),
          f"[{label}] both webhooks' caBundle is the generated CA")


def expect_no_pull_secrets(label, objects, wired, _):
    role = find(objects, "ClusterRole", "signet")
    check(flag(wired["args"], "--pull-secrets") is None
          and not any("secrets" in r["resources"] for r in role["rules"])
          and not any(o["kind"] == "FlowSchema" for o in objects),
          f"[{label}] no --pull-secrets, no cluster-wide secrets read, no FlowSchema for it")


def expect_mutate(label, objects, wired, _):
    check(flag(wired["args"], "--enable-mutation") is True, f"[{label}] container runs with --enable-mutation")
    check(all(h["failurePolicy"] == "Fail" for h in wired["vwc"]["webhooks"]),
          f"[{label}] validation still fails closed (failurePolicy Fail)")
    mwc = find(objects, "MutatingWebhookConfiguration", "signet")
    if not check(mwc is not None, f"[{label}] MutatingWebhookConfiguration signet present"):
        return
    for hook in mwc["webhooks"]:
        name = hook["name"]
        svc = hook["clientConfig"].get("service", {})
        check(svc.get("name") == "signet" and svc.get("namespace") == wired["ns"] and svc.get("path") == "/mutate",
              f"[{label}] {name}: calls Service {wired['ns']}/signet /mutate")
        check(hook.get("failurePolicy") == "Ignore" and hook.get("reinvocationPolicy") == "IfNeeded",
              f"[{label}] {name}: failurePolicy Ignore (validation still verifies), reinvoked after injectors")
        rules = {(g, r) for rule in hook["rules"] for g in rule["apiGroups"] for r in rule["resources"]
                 if {"CREATE", "UPDATE"} <= set(rule["operations"])}
        check(not (REQUIRED_RULES - rules), f"[{label}] {name}: sees every pod-carrying kind",
              str(sorted(REQUIRED_RULES - rules)))
        excluded = {v for e in hook.get("namespaceSelector", {}).get("matchExpressions", [])
                    if e["key"] == "kubernetes.io/metadata.name" and e["operator"] == "NotIn"
                    for v in e["values"]}
        check({wired["ns"], "kube-system"} <= excluded, f"[{label}] {name}: never mutates {wired['ns']} or kube-system")
        check(hook.get("sideEffects") == "None" and "objectSelector" not in hook,
              f"[{label}] {name}: sideEffects None, no objectSelector")


def main():
    tool = kustomize_command()
    print(f"      renderer: {' '.join(tool) if tool else 'built-in only (no kustomize v4+ found)'}; "
          f"schemas: Kubernetes {', '.join(K8S_VERSIONS)} (strict)")
    manifests = os.path.join(ROOT, "manifests")
    targets = [
        ("base", os.path.join(manifests, "base"), expect_base, None),
        # The documented first install: audit only.
        ("audit-first", manifests, expect_audit, None),
    ]
    overlays = os.path.join(manifests, "overlays")
    expectations = {
        "cert-manager": lambda *a: (expect_cert_manager(*a), expect_audit(*a)),
        "cert-manager-enforcing": lambda *a: (expect_cert_manager(*a), expect_base(*a)),
    }
    for name in sorted(os.listdir(overlays)):
        if os.path.isfile(os.path.join(overlays, name, "kustomization.yaml")):
            targets.append((name, os.path.join(overlays, name), expectations.get(name), None))
    # Components combined as a user's own kustomization would (mutate before cert-manager).
    combos = {
        "mutate+cert-manager": (["mutate", "cert-manager"],
                                lambda *a: (expect_mutate(*a), expect_cert_manager(*a),
                                            expect_injected_everywhere(*a))),
        "without-pull-secrets": (["without-pull-secrets"], expect_no_pull_secrets),
    }
    for label, (components, expect) in combos.items():
        directory = os.path.join(CHECK_DIR, "components", label)
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "kustomization.yaml"), "w") as f:
            yaml.safe_dump({"resources": [os.path.relpath(os.path.join(manifests, "base"), directory)],
                            "components": [os.path.relpath(os.path.join(manifests, "components", c), directory)
                                           for c in components]}, f)
        targets.append((label, directory, expect, None))
    if shutil.which("openssl"):
        out_dir = os.path.join(CHECK_DIR, "certs")
        shutil.rmtree(out_dir, ignore_errors=True)
        result = subprocess.run(["bash", "certs/generate-openssl.sh", out_dir], capture_output=True, text=True)
        if check(result.returncode == 0, "certs/generate-openssl.sh runs", result.stderr.strip()):
            targets.append(("openssl-certs", out_dir, lambda *a: (expect_ca_bundle(*a), expect_audit(*a)), out_dir))
            # The same directory with components/mutate added: its webhook gets the caBundle too.
            mutate_dir = os.path.join(CHECK_DIR, "certs-mutate")
            shutil.rmtree(mutate_dir, ignore_errors=True)
            shutil.copytree(out_dir, mutate_dir)
            path = os.path.join(mutate_dir, "kustomization.yaml")
            with open(path) as f:
                kustomization = yaml.safe_load(f)
            kustomization["resources"] = [os.path.relpath(os.path.join(manifests, "base"), mutate_dir)]
            kustomization["components"] = [os.path.relpath(os.path.join(manifests, "components", c), mutate_dir)
                                           for c in ("audit", "mutate")]
            with open(path, "w") as f:
                yaml.safe_dump(kustomization, f)
            targets.append(("openssl-certs+mutate", mutate_dir,
                            lambda *a: (expect_ca_bundle(*a), expect_ca_bundle_everywhere(*a)), mutate_dir))
    else:
        fail("openssl not found: cannot check certs/generate-openssl.sh")
    crd_targets = [("crds", os.path.join(manifests, "crds")),
                   ("crds-policy-controller", os.path.join(manifests, "crds", "policy-controller"))]
    crd_objects = []
    for label, directory in crd_targets:
        objects = render(label, directory, tool) or []
        for obj in objects:
            validate_object(label, obj)
            check_crd(label, obj)
        crd_objects += objects

    helm = helm_command()
    if helm:
        helm_targets = [
            ("helm-default", [], lambda *a: (expect_base(*a), expect_generated_ca_bundle(*a))),
            ("helm-warn", ["--set", "mode=warn"], expect_audit),
            ("helm-cert-manager", ["--set", "certificates.source=certManager"], expect_cert_manager),
            ("helm-mutate", ["--set", "mutate.enabled=true"],
             lambda *a: (expect_mutate(*a), expect_generated_ca_bundle(*a))),
        ]
        ci = os.path.join(ROOT, "charts", "signet", "ci")
        for name in sorted(os.listdir(ci)):
            if name.endswith(".yaml"):
                expect = expect_platform if name == "platform-values.yaml" else None
                helm_targets.append((f"helm-{name[:-5]}", ["--values", os.path.join(ci, name)], expect))
        for label, args, expect in helm_targets:
            targets.append((label, ("helm", helm, args), expect, None))
    else:
        fail("helm not found: run scripts/tools.sh to check charts/signet")

    global quiet, quiet_passed
    for label, directory, expect, extra in targets:
        if isinstance(directory, tuple):
            objects = render_helm(label, directory[1], directory[2])
        else:
            objects = render(label, directory, tool)
        if objects is None:
            continue
        quiet, quiet_passed = False, 0
        keys = [object_key(o) for o in objects]
        dupes = sorted({str(k) for k in keys if keys.count(k) > 1})
        check(not dupes, f"[{label}] no duplicate objects", ", ".join(dupes))
        for obj in objects:
            validate_object(label, obj)
        quiet = label != "base"
        crds = [o for o in objects if o["kind"] == "CustomResourceDefinition"]
        for crd in crds:
            check_crd(label, crd)
        # The CRDs are a separate step in kustomize (never in an install, so `kubectl delete -k`
        # keeps the policies); helm installs them from crds/ once and never deletes them.
        check(bool(crds) == isinstance(directory, tuple),
              f"[{label}] CRDs {'in crds/ of the chart' if crds else 'not in the install'}")
        cip_crd = next((c for c in crds + crd_objects
                        if c["metadata"]["name"] == "clusterimagepolicies.policy.sigstore.dev"), None)
        if check(cip_crd is not None, f"[{label}] ClusterImagePolicy CRD found"):
            check_policies(label, objects, cip_crd)
        wired = check_wiring(label, objects)
        if quiet:
            print(f"ok    [{label}] {quiet_passed} checks as for base (CRD, policies, wiring, matchConditions)")
        quiet = False
        if wired and expect:
            expect(label, objects, wired, extra)

    print(f"manifests: {passed} passed, {len(failures)} failed")
    return 1 if failures else 0


sys.exit(main())
PY
