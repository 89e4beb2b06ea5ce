#!/usr/bin/env python3
# Writes the plugin flavour of the Argo templates from the container flavour:
# workflows/argo/plugin/steps.yaml from workflows/argo/steps.yaml, and
# workflows/argo/plugin/playbooks/*.yaml from workflows/argo/playbooks/*.yaml,
# and the images list of workflows/argo/kustomization.yaml from the images the
# templates and the plugin name (irsteps/<name> -> ghcr.io/irsteps/<name> at
# the project's version).
# Run it after changing those; tests/plugin/manifests_test.cpp fails until then.
import glob
import os
import re
import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "workflows", "argo")
src = yaml.safe_load(open(ROOT + '/steps.yaml'))
# The backoff of the container flavour's retry-transient (its first template's):
# one maxDuration for both flavours.
MAX_DURATION = src['spec']['templates'][0]['retryStrategy']['backoff']['maxDuration']
# The steps that run in the plugin are the ones its policy allows
# (plugin/policy.yaml); every other template stays a pod, as in ../steps.yaml,
# so a new step is a pod until it is enabled there (with its RoleBindings in
# plugin/rbac.yaml). Why these stay pods: they need what an executor plugin's
# sidecar cannot mount.
policy_doc = yaml.safe_load(open(ROOT + '/plugin/policy.yaml'))
IN_PLUGIN = set(yaml.safe_load(policy_doc['data']['policy.yaml'])['steps'])
KEEP_POD = {'snapshot': ('its evidence goes to the PersistentVolumeClaim', 'irsteps-evidence, which must outlive the agent pod'),
            'notify': ('its routing file and channel secrets come from', 'the ConfigMap irsteps-notify-routing and the Secret irsteps-notify'),
            'drift': ('it clones the git repository of the expected', 'manifests, which needs writable storage the agent pod does not give a plugin'),
            'access-audit': ('its audit log is an input artifact, which Argo loads', 'into pods only (the agent of a plugin template loads none: workflow/executor/agent.go)')}
assert not IN_PLUGIN & set(KEEP_POD), 'plugin/policy.yaml enables a step that must stay a pod'
# The step templates the playbooks call: a template the policy does not enable
# and no playbook calls is left out of the plugin flavour (a new step, until
# it is used), so adding a step does not change this flavour.
USED = set()
for path in glob.glob(ROOT + '/playbooks/*.yaml'):
    USED |= set(re.findall(r'templateRef: \{name: irsteps-steps, template: ([a-z0-9-]+)\}', open(path).read()))
WANTED = IN_PLUGIN | set(KEEP_POD) | USED

# What a plugin node's message says when a retry may succeed (see the header
# written below); tests/plugin/manifests_test.cpp reads it back.
RETRY_EXPRESSION = ("lastRetry.message contains 'failed with exit code 4 ' || "
                    "lastRetry.message contains 'irsteps-plugin unavailable: ' || "
                    "lastRetry.message contains 'connection refused' || "
                    "lastRetry.message contains 'Client.Timeout' || "
                    "lastRetry.message contains 'connection reset by peer' || "
                    "lastRetry.message contains '\": EOF'")

def flow(v):
    return yaml.safe_dump(v, default_flow_style=True, sort_keys=False, width=1000).strip()

def q(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'

out = []
out.append('''# The plugin flavour of ../steps.yaml: the same template names, inputs and
# outputs (a step that policy.yaml does not enable and no playbook calls is
# left out until one does), so a playbook runs unchanged with templateRef
# {name: irsteps-plugin-steps, template: <step>} (see playbooks/ here). Each
# template is a `plugin: {irsteps: ...}` template that the irsteps executor
# plugin (plugin.yaml) runs in-process in the workflow's agent pod: no pod per
# step. Every container flag becomes a member of the same name; the plugin
# validates them with the same schemas and answers with the step's outputs.
# - Long steps answer Running and Argo calls again (requeue); a repeated call
#   never starts a second run. A Succeeded node is given again to the same
#   call for --keep-results (10m): Argo asks again when its agent restarted
#   before it recorded the node. A Failed one, once handed out, is a retry.
# - Retries: a failed node's message names the step's exit code
#   ("... failed with exit code 4 (transient ..."); only 4 is retried, and
#   the ways Argo's agent fails a node when a call did not get the plugin's
#   answer, each after five calls to the same sidecar about 1, 2, 4 and 8 s
#   apart (workflow/util/plugin/plugin.go Client.Call retries them all;
#   workflow/executor/agent.go processTask makes the last error the node's
#   message): a 503's body ("irsteps-plugin unavailable: ..."), and Go's
#   errors for a refused connection ("Post \"http://localhost:7355/...\":
#   dial tcp ...: connect: connection refused"), for its 30 s client timeout
#   ("... (Client.Timeout exceeded while awaiting headers)"), and for a
#   sidecar that died while answering ("...: read: connection reset by
#   peer", "...\": EOF"). A step that was running then runs again when the
#   node is retried: the steps are idempotent, and a Succeeded run is kept
#   on disk and given again, never run twice. --wait stays far below the
#   client timeout, so a healthy plugin always answers in time.
# - Three templates stay pods, because the agent pod cannot give a plugin what
#   they need: snapshot (its evidence PersistentVolumeClaim), notify (routing
#   ConfigMap, channel Secret) and drift (writable storage for its git clone).
# - Case records: the plugin's root filesystem is read-only; plugin.yaml
#   mounts a folder of the agent pod's own emptyDir at IRSTEPS_CACHE_DIR for
#   the clones (and the Succeeded runs a restarted plugin must not run
#   again). A call with case-repo and nowhere to clone it is refused before
#   the step acts.
# Generated from ../steps.yaml by scripts/plugin-workflows.py;
# tests/plugin/manifests_test.cpp checks that the two stay in step.
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: irsteps-plugin-steps
  labels: {app.kubernetes.io/part-of: irsteps, app.kubernetes.io/component: executor-plugin}
spec:
  templates:''')
first = True
for t in src['spec']['templates']:
    if t['name'] not in WANTED:
        continue
    name = t['name']
    if not first:
        out.append('')
    first = False
    if name not in IN_PLUGIN:
        why = KEEP_POD.get(name, ('the plugin\'s policy (policy.yaml) does not run', 'it in the plugin'))
        out.append(f'    # A pod, as in ../steps.yaml: {why[0]}')
        out.append(f'    # {why[1]}.')
        text = open(ROOT + '/steps.yaml').read()
        start = text.index(f'    - name: {name}\n')
        end = text.find('\n    - name: ', start + 1)
        block = text[start:] if end < 0 else text[start:end]
        # Drop the comment lines that belong to the next template.
        lines = block.rstrip().split('\n')
        while lines and lines[-1].lstrip().startswith('#'):
            lines.pop()
        block = '\n'.join(lines).rstrip()
        block = block.replace('retryStrategy: *retry-transient', """retryStrategy:
        limit: "3"
        retryPolicy: OnFailure
        expression: asInt(lastRetry.exitCode) == 4
        backoff: {duration: 5s, factor: "2", maxDuration: %s}""" % MAX_DURATION)
        block = block.replace('securityContext: *step-security', """securityContext:
          runAsNonRoot: true
          runAsUser: 65532
          readOnlyRootFilesystem: true
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL]}
          seccompProfile: {type: RuntimeDefault}""")
        block = block.replace('resources: *step-resources', """resources:
          requests: {cpu: 50m, memory: 32Mi}
          limits: {cpu: "1", memory: 256Mi}""")
        block = block.replace('volumes: *step-volumes', """volumes:
        - {name: tmp, emptyDir: {}}
        - {name: cache, emptyDir: {}}
        - {name: case-repo, secret: {secretName: irsteps-case-repo, optional: true}}""")
        block = block.replace('volumeMounts: *step-mounts', """volumeMounts:
          - {name: tmp, mountPath: /tmp}
          - {name: cache, mountPath: /var/cache/irsteps}
          - {name: case-repo, mountPath: /var/run/secrets/irsteps/case-repo, readOnly: true}""")
        block = block.replace('env: *step-env', """env:
          - {name: IRSTEPS_CACHE_DIR, value: /var/cache/irsteps}
          - {name: HOME, value: /tmp}""")
        assert '*' not in block.replace('"*"', ''), block
        out.append(block)
        continue
    out.append(f'    - name: {name}')
    out.append('      inputs:')
    out.append('        parameters:')
    for p in t['inputs']['parameters']:
        out.append('          - ' + re.sub(r"'([^']*)'", r'"\1"', flow(p)))
    out.append('      retryStrategy:')
    out.append('        limit: "3"')
    out.append('        retryPolicy: OnFailure')
    out.append("        expression: " + q(RETRY_EXPRESSION))
    out.append('        backoff: {duration: 5s, factor: "2", maxDuration: %s}' % MAX_DURATION)
    out.append('      plugin:')
    out.append('        irsteps:')
    c = t['container']
    step = c['command'][0].rsplit('/', 1)[1]
    out.append(f'          step: {step}')
    # Argo sends no node id to a plugin: the node's name tells two calls of
    # this template with the same arguments apart (plugin/README.md).
    out.append('          node: "{{node.name}}"')
    for a in c['args']:
        flag, value = a[2:].split('=', 1)
        if flag == 'outputs-dir':
            continue
        out.append(f'          {flag}: {q(value)}')
    out.append('      outputs:')
    out.append('        parameters:')
    for p in t['outputs']['parameters']:
        d = p['valueFrom'].get('default', '')
        out.append('          - ' + f'{{name: {p["name"]}, valueFrom: {{supplied: {{}}, default: {q(d)}}}}}')
open(ROOT + '/plugin/steps.yaml', 'w').write('\n'.join(out) + '\n')

for path in sorted(glob.glob(ROOT + '/playbooks/*.yaml')):
    pb = os.path.basename(path)[:-len('.yaml')]
    text = open(ROOT + f'/playbooks/{pb}.yaml').read()
    text = text.replace('templateRef: {name: irsteps-steps,', 'templateRef: {name: irsteps-plugin-steps,')
    text = text.replace(f'  name: irsteps-{pb}\n', f'  name: irsteps-plugin-{pb}\n', 1)
    text = text.replace(f'workflowtemplate/irsteps-{pb}', f'workflowtemplate/irsteps-plugin-{pb}')
    text = text.replace(f'workflowTemplateRef: {{name: irsteps-{pb}}}', f'workflowTemplateRef: {{name: irsteps-plugin-{pb}}}')
    header = (f"# The plugin flavour of ../../playbooks/{pb}.yaml, generated from it by\n"
              "# scripts/plugin-workflows.py: the same playbook with its steps from\n"
              "# irsteps-plugin-steps, run by the irsteps executor plugin in the agent pod\n"
              "# instead of a pod per step. Its ServiceAccount also needs the agent Role\n"
              "# of ../rbac.yaml.\n")
    open(ROOT + f'/plugin/playbooks/{pb}.yaml', 'w').write(header + text)

# The kustomize package's one images list: each `irsteps/<name>` a shipped
# file names becomes ghcr.io/irsteps/<name> at the version of CMakeLists.txt.
# Overlays (workflows/overlays/) point them elsewhere or pin digests.
version = re.search(r'^project\(irsteps VERSION ([0-9.]+)', open(ROOT + '/../../CMakeLists.txt').read(), re.M).group(1)
names = []
for path in [ROOT + '/steps.yaml', ROOT + '/plugin/configmap.yaml']:
    for name in re.findall(r'^\s*image: "?irsteps/([a-z0-9-]+)"?\s*$', open(path).read(), re.M):
        if name not in names:
            names.append(name)
kustomization = open(ROOT + '/kustomization.yaml').read()
listed = ''.join(f'  - {{name: irsteps/{n}, newName: ghcr.io/irsteps/{n}, newTag: {version}}}\n' for n in sorted(names))
kustomization, n = re.subn(r'^images:\n(?:  - .*\n)*', lambda m: 'images:\n' + listed, kustomization, flags=re.M)
assert n == 1, 'workflows/argo/kustomization.yaml has no images list'
# Its resources name every RBAC file: the namespace first, each step's, then
# the playbooks' bindings to them (a new step's file comes in by itself).
steps_rbac = sorted(os.path.basename(p) for p in glob.glob(ROOT + '/rbac/*.yaml')
                    if os.path.basename(p) not in ('namespace.yaml', 'playbooks.yaml'))
rbac = ''.join(f'  - rbac/{name}\n' for name in ['namespace.yaml'] + steps_rbac + ['playbooks.yaml'])
kustomization, n = re.subn(r'^(?:  - rbac/.*\n)+', lambda m: rbac, kustomization, flags=re.M)
assert n == 1, 'workflows/argo/kustomization.yaml lists no rbac/ files'
open(ROOT + '/kustomization.yaml', 'w').write(kustomization)
