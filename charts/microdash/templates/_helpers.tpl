{{/* The chart name, overridable. */}}
{{- define "microdash.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* A fully qualified app name: release-chart, truncated to the 63 characters DNS allows. */}}
{{- define "microdash.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "microdash.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "microdash.labels" -}}
helm.sh/chart: {{ include "microdash.chart" . }}
{{ include "microdash.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: microdash
{{- end }}

{{/* Labels that select pods; never change them between upgrades. */}}
{{- define "microdash.selectorLabels" -}}
app.kubernetes.io/name: {{ include "microdash.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "microdash.operator.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (printf "%s-operator" (include "microdash.fullname" .)) .Values.operator.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Labels of one component's objects: call with (dict "context" $ "component" "api"). */}}
{{- define "microdash.componentLabels" -}}
{{ include "microdash.labels" .context }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Selector labels of one component's pods (immutable once deployed). */}}
{{- define "microdash.componentSelectorLabels" -}}
{{ include "microdash.selectorLabels" .context }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* A server image reference: repository:tag, or repository@digest when a digest is set.
     Call with (dict "image" .Values.image "context" $). */}}
{{- define "microdash.imageRef" -}}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository (default .context.Chart.AppVersion .image.tag) }}
{{- end }}
{{- end }}

{{- define "microdash.image" -}}
{{ include "microdash.imageRef" (dict "image" .Values.image "context" .) }}
{{- end }}

{{- define "microdash.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The Secret holding the platform's own secrets (secret key, broker passwords). */}}
{{- define "microdash.secretName" -}}
{{- default (include "microdash.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{- define "microdash.configMapName" -}}
{{- printf "%s-config" (include "microdash.fullname" .) }}
{{- end }}

{{/* MariaDB: bundled StatefulSet or external endpoint. */}}
{{- define "microdash.mariadb.fullname" -}}
{{- printf "%s-mariadb" (include "microdash.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "microdash.database.host" -}}
{{- if .Values.mariadb.enabled }}{{ include "microdash.mariadb.fullname" . }}{{ else }}{{ required "externalDatabase.host is required when mariadb.enabled is false" .Values.externalDatabase.host }}{{ end }}
{{- end }}

{{- define "microdash.database.port" -}}
{{- if .Values.mariadb.enabled }}3306{{ else }}{{ .Values.externalDatabase.port }}{{ end }}
{{- end }}

{{- define "microdash.database.name" -}}
{{- if .Values.mariadb.enabled }}{{ .Values.mariadb.auth.database }}{{ else }}{{ .Values.externalDatabase.database }}{{ end }}
{{- end }}

{{- define "microdash.database.user" -}}
{{- if .Values.mariadb.enabled }}{{ .Values.mariadb.auth.username }}{{ else }}{{ .Values.externalDatabase.username }}{{ end }}
{{- end }}

{{- define "microdash.database.secretName" -}}
{{- if .Values.mariadb.enabled }}
{{- default (include "microdash.mariadb.fullname" .) .Values.mariadb.auth.existingSecret }}
{{- else }}
{{- default (printf "%s-external-database" (include "microdash.fullname" .)) .Values.externalDatabase.existingSecret }}
{{- end }}
{{- end }}

{{- define "microdash.database.secretKey" -}}
{{- if .Values.mariadb.enabled }}mariadb-password{{ else }}{{ .Values.externalDatabase.existingSecretPasswordKey }}{{ end }}
{{- end }}

{{/* Redis: bundled StatefulSet or external endpoint. */}}
{{- define "microdash.redis.fullname" -}}
{{- printf "%s-redis" (include "microdash.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "microdash.redis.host" -}}
{{- if .Values.redis.enabled }}{{ include "microdash.redis.fullname" . }}{{ else }}{{ required "externalRedis.host is required when redis.enabled is false" .Values.externalRedis.host }}{{ end }}
{{- end }}

{{- define "microdash.redis.port" -}}
{{- if .Values.redis.enabled }}6379{{ else }}{{ .Values.externalRedis.port }}{{ end }}
{{- end }}

{{- define "microdash.redis.secretName" -}}
{{- if .Values.redis.enabled }}
{{- default (include "microdash.redis.fullname" .) .Values.redis.auth.existingSecret }}
{{- else }}
{{- default (printf "%s-external-redis" (include "microdash.fullname" .)) .Values.externalRedis.existingSecret }}
{{- end }}
{{- end }}

{{- define "microdash.redis.secretKey" -}}
{{- if .Values.redis.enabled }}redis-password{{ else }}{{ .Values.externalRedis.existingSecretPasswordKey }}{{ end }}
{{- end }}

{{/* Mosquitto: bundled StatefulSet or external broker. */}}
{{- define "microdash.mosquitto.fullname" -}}
{{- printf "%s-mosquitto" (include "microdash.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "microdash.mqtt.url" -}}
{{- if .Values.mosquitto.enabled }}
{{- printf "mqtt://%s:%d" (include "microdash.mosquitto.fullname" .) (int .Values.mosquitto.service.port) }}
{{- else }}
{{- printf "%s://%s:%d" (ternary "mqtts" "mqtt" .Values.externalMqtt.tls) (required "externalMqtt.host is required when mosquitto.enabled is false" .Values.externalMqtt.host) (int .Values.externalMqtt.port) }}
{{- end }}
{{- end }}

{{/* Database access for any container: the password from its Secret, then the URL built from it
     (Kubernetes expands $(VAR) from variables defined earlier in the same list). */}}
{{- define "microdash.databaseEnv" -}}
- name: MICRODASH_DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "microdash.database.secretName" . }}
      key: {{ include "microdash.database.secretKey" . }}
- name: MICRODASH_DATABASE_URL
  value: {{ printf "mysql://%s:$(MICRODASH_DATABASE_PASSWORD)@%s:%s/%s" (include "microdash.database.user" .) (include "microdash.database.host" .) (include "microdash.database.port" .) (include "microdash.database.name" .) | quote }}
{{- end }}

{{/* What `microdash migrate` needs: the database, and the secrets because the settings refuse
     production with any default one. Optional: before the first install (pre-install hook) neither
     the ConfigMap (production) nor a chart-made Secret exists, and development needs none. */}}
{{- define "microdash.migrateEnv" -}}
{{ include "microdash.databaseEnv" . }}
{{- range $variable, $key := dict "MICRODASH_SECRET_KEY" "secret-key" "MICRODASH_MQTT_ADMIN_PASSWORD" "mqtt-admin-password" "MICRODASH_MQTT_BRIDGE_PASSWORD" "mqtt-bridge-password" }}
- name: {{ $variable }}
  valueFrom:
    secretKeyRef:
      name: {{ include "microdash.secretName" $ }}
      key: {{ $key }}
      optional: true
{{- end }}
{{- end }}

{{/* Everything a server process (api, worker, scheduler, bridge, operator) reads. */}}
{{- define "microdash.serverEnv" -}}
{{ include "microdash.databaseEnv" . }}
- name: MICRODASH_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "microdash.redis.secretName" . }}
      key: {{ include "microdash.redis.secretKey" . }}
- name: MICRODASH_REDIS_URL
  value: {{ printf "%s://:$(MICRODASH_REDIS_PASSWORD)@%s:%s/%d" (ternary "rediss" "redis" (and (not .Values.redis.enabled) .Values.externalRedis.tls)) (include "microdash.redis.host" .) (include "microdash.redis.port" .) (int (ternary 0 .Values.externalRedis.database .Values.redis.enabled)) | quote }}
- name: MICRODASH_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "microdash.secretName" . }}
      key: secret-key
- name: MICRODASH_MQTT_ADMIN_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "microdash.secretName" . }}
      key: mqtt-admin-password
- name: MICRODASH_MQTT_BRIDGE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "microdash.secretName" . }}
      key: mqtt-bridge-password
{{- end }}

{{- define "microdash.serverEnvFrom" -}}
- configMapRef:
    name: {{ include "microdash.configMapName" . }}
{{- end }}

{{/* Pod annotations that roll the server pods when their configuration changes.
     checksum/secret hashes what the user controls (given passwords, Secret names), never a render
     of the Secrets: a render draws new random passwords whenever `lookup` finds nothing (always
     under `helm template`), so the pods would roll on every upgrade or GitOps sync. Generated
     passwords never change (they are looked up and kept), so leaving them out misses nothing. */}}
{{- define "microdash.configChecksums" -}}
checksum/config: {{ include (print $.Template.BasePath "/config/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include "microdash.secretInputs" . | sha256sum }}
{{- end }}

{{/* Every input of the Secrets the server pods read, as JSON (keys sorted, so stable). */}}
{{- define "microdash.secretInputs" -}}
{{- toJson (dict "secrets" .Values.secrets "mariadb" .Values.mariadb.auth "redis" .Values.redis.auth
      "externalDatabase" .Values.externalDatabase "externalRedis" .Values.externalRedis) }}
{{- end }}

{{/* The init container every server pod starts with: schema migrations are idempotent and run
     under a lock, so pods started together on a fresh install wait here for the database instead
     of crash-looping; upgrades are migrated by the hook Job before any pod rolls. The schema only:
     raw rows of past windows are sealed into chunks by the scheduled sealing job, in the
     background (reads see both), so no pod waits on a backlog conversion. */}}
{{- define "microdash.migrateInitContainer" -}}
- name: migrate
  image: {{ include "microdash.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args: [migrate, --schema-only, --wait, "300"]
  envFrom:
    {{- include "microdash.serverEnvFrom" . | nindent 4 }}
  env:
    {{- include "microdash.migrateEnv" . | nindent 4 }}
  securityContext:
    {{- toYaml .Values.containerSecurityContext | nindent 4 }}
  resources:
    {{- toYaml .Values.migrations.resources | nindent 4 }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
{{- end }}

{{/* Pod-level scheduling settings of one component: call with (dict "values" .Values.api). */}}
{{- define "microdash.scheduling" -}}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- end }}

{{/* Generated Secrets outlive `helm uninstall`: the datastores' volumes keep the passwords they
     were initialised with (MariaDB's users, Mosquitto's dynamic-security admin), so a reinstall
     under the same name must find the same passwords, which `microdash.secretValue` looks up. */}}
{{- define "microdash.keptSecretAnnotations" -}}
helm.sh/resource-policy: keep
{{- end }}

{{/* A secret value: the one given, else the one already in the cluster (so upgrades keep it),
     else a new random one. Call with (dict "context" $ "secret" NAME "key" KEY "value" GIVEN). */}}
{{- define "microdash.secretValue" -}}
{{- if .value }}
{{- .value }}
{{- else }}
{{- $existing := lookup "v1" "Secret" .context.Release.Namespace .secret }}
{{- if and $existing (hasKey $existing.data .key) }}
{{- index $existing.data .key | b64dec }}
{{- else }}
{{- randAlphaNum 32 }}
{{- end }}
{{- end }}
{{- end }}

{{/* A NetworkPolicy peer list: the microdash pods of the given components.
     Call with (dict "context" $ "components" (list "api" "worker")). */}}
{{- define "microdash.componentPeers" -}}
- podSelector:
    matchLabels:
      {{- include "microdash.selectorLabels" .context | nindent 6 }}
    matchExpressions:
      - key: app.kubernetes.io/component
        operator: In
        values: {{ toJson .components }}
{{- end }}

{{/* Security context of the datastore containers (official images, their own uid). */}}
{{- define "microdash.datastoreSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "microdash.datastorePodSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* A volume claim template for a datastore: call with (dict "persistence" .Values.redis.persistence). */}}
{{- define "microdash.volumeClaimTemplate" -}}
- metadata:
    name: data
  spec:
    accessModes: [ReadWriteOnce]
    {{- with .persistence.storageClass }}
    storageClassName: {{ . | quote }}
    {{- end }}
    resources:
      requests:
        storage: {{ .persistence.size }}
{{- end }}

{{/* The Secret the operator writes for the agents' Tenant. */}}
{{- define "microdash.agent.tenantSecretName" -}}
{{- printf "%s-microdash-token" .Values.agent.tenant.name }}
{{- end }}

{{/* The namespaces the operator watches, as a JSON list: empty for all, else the configured ones
     plus the release's own (where the agent's Tenant lives). */}}
{{- define "microdash.operator.namespaces" -}}
{{- if .Values.operator.watchNamespaces -}}
{{- append .Values.operator.watchNamespaces .Release.Namespace | uniq | toJson -}}
{{- else -}}
[]
{{- end -}}
{{- end }}

{{/* What the operator may do where it works: the same rules in its ClusterRole or in each Role. */}}
{{- define "microdash.operator.rules" -}}
- apiGroups: [microdash.io]
  resources: [tenants, alertrules]
  verbs: [get, list, watch, patch]
- apiGroups: [microdash.io]
  resources: [tenants/status, alertrules/status]
  verbs: [get, patch]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, create, patch, delete]
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- end }}

{{/* The uninstall hook's objects: call with (dict "weight" "-10"). */}}
{{- define "microdash.retireHookAnnotations" -}}
helm.sh/hook: pre-delete
helm.sh/hook-weight: {{ .weight | quote }}
helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
{{- end }}

{{/* What the uninstall hook may do to Tenants and AlertRules where the operator watches them. */}}
{{- define "microdash.retire.rules" -}}
- apiGroups: [microdash.io]
  resources: [tenants, alertrules]
  verbs: [list, delete, patch]
{{- end }}

{{/* A MICRODASH_* setting as the server processes see it: config.extraEnv's value, or the
     settings' default (call with (dict "context" $ "name" "BRIDGE_STOP_TIMEOUT_SECONDS" "default" 20)).
     The defaults here are checked against microdash_core.settings by tests/test_chart.py. */}}
{{- define "microdash.setting" -}}
{{- $name := printf "MICRODASH_%s" .name }}
{{- get .context.Values.config.extraEnv $name | default .default }}
{{- end }}

{{/* Pod grace periods, derived from the settings that bound each process's stop so that the two
     cannot drift apart (docs/operations.md). Beyond its grace a pod is SIGKILLed.
     The bridge: its own stop timeout (it then gives up and exits), plus slack for exiting. */}}
{{- define "microdash.bridge.terminationGracePeriodSeconds" -}}
{{- $stopTimeout := include "microdash.setting" (dict "context" . "name" "BRIDGE_STOP_TIMEOUT_SECONDS" "default" 20) | float64 }}
{{- add (ceil $stopTimeout | int) .Values.terminationGraceSlackSeconds }}
{{- end }}

{{/* A worker finishes the job in hand: the longest whose timeout the settings fix (an ingest
     batch; a notification's delivery, three attempts' time plus 10 s, as microdash_core.queues
     enqueues it), plus slack. A longer job (a tenant's alert evaluation with many rules, a
     retention pass) that is cut short rolls back and is done again by the next run. */}}
{{- define "microdash.worker.terminationGracePeriodSeconds" -}}
{{- $ingest := include "microdash.setting" (dict "context" . "name" "INGEST_JOB_TIMEOUT_SECONDS" "default" 30) | float64 }}
{{- $notify := include "microdash.setting" (dict "context" . "name" "NOTIFY_TIMEOUT_SECONDS" "default" 10) | float64 }}
{{- $notifyJob := add (mulf $notify 3 | floor | int) 10 }}
{{- add (max (ceil $ingest | int) $notifyJob) .Values.terminationGraceSlackSeconds }}
{{- end }}

{{/* The api: its preStop sleep (the grace period runs from its start), then uvicorn's graceful
     shutdown (microdash_api.server.GRACEFUL_SHUTDOWN_SECONDS), plus slack. */}}
{{- define "microdash.api.terminationGracePeriodSeconds" -}}
{{- add .Values.api.preStopSleepSeconds 5 .Values.terminationGraceSlackSeconds }}
{{- end }}
