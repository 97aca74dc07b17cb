{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "phi-pipeline.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: <release>-<chart>, or the release name when it already holds the chart name. */}}
{{- define "phi-pipeline.fullname" -}}
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

{{- define "phi-pipeline.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels shared by every object of the release. */}}
{{- define "phi-pipeline.labels" -}}
helm.sh/chart: {{ include "phi-pipeline.chart" . }}
{{ include "phi-pipeline.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: phi-pipeline
{{- end }}

{{/* Labels that pick every pod of the release (workers and summarizer). */}}
{{- define "phi-pipeline.selectorLabels" -}}
app.kubernetes.io/name: {{ include "phi-pipeline.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "phi-pipeline.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "phi-pipeline.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "phi-pipeline.metricsServiceName" -}}
{{- printf "%s-metrics" (include "phi-pipeline.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Secret holding the keyring, and whether the chart creates it. */}}
{{- define "phi-pipeline.keyringSecretName" -}}
{{- if .Values.keyring.content }}
{{- printf "%s-keyring" (include "phi-pipeline.fullname" .) }}
{{- else if .Values.keyring.existingSecret }}
{{- .Values.keyring.existingSecret }}
{{- else }}
{{- fail "keyring: set keyring.existingSecret (a Secret made from `phi-pipeline keys init`) or keyring.content" }}
{{- end }}
{{- end }}

{{- define "phi-pipeline.usesSasl" -}}
{{- if hasPrefix "SASL_" (upper .Values.kafka.securityProtocol) }}true{{ end }}
{{- end }}

{{- define "phi-pipeline.usesTls" -}}
{{- if hasSuffix "SSL" (upper .Values.kafka.securityProtocol) }}true{{ end }}
{{- end }}

{{- define "phi-pipeline.saslSecretName" -}}
{{- if .Values.kafka.sasl.existingSecret }}
{{- .Values.kafka.sasl.existingSecret }}
{{- else if .Values.kafka.sasl.password }}
{{- printf "%s-kafka-sasl" (include "phi-pipeline.fullname" .) }}
{{- else }}
{{- fail "kafka.sasl: a SASL_* securityProtocol needs kafka.sasl.existingSecret (preferred) or kafka.sasl.password" }}
{{- end }}
{{- end }}

{{- define "phi-pipeline.metricsTokenSecretName" -}}
{{- if .Values.metrics.token.existingSecret }}
{{- .Values.metrics.token.existingSecret }}
{{- else if .Values.metrics.token.value }}
{{- printf "%s-metrics-token" (include "phi-pipeline.fullname" .) }}
{{- else }}
{{- fail "metrics.token.enabled needs metrics.token.existingSecret or metrics.token.value" }}
{{- end }}
{{- end }}

{{/* Label matchers the alert rules use to pick this release's series. */}}
{{- define "phi-pipeline.ruleSelector" -}}
{{- if .Values.prometheusRule.selector }}
{{- .Values.prometheusRule.selector }}
{{- else }}
{{- printf "job=\"%s\",namespace=\"%s\"" (include "phi-pipeline.metricsServiceName" .) .Release.Namespace }}
{{- end }}
{{- end }}

{{/* Checks that make a broken release fail at render time instead of in the cluster. */}}
{{- define "phi-pipeline.validate" -}}
{{- $protocols := list "PLAINTEXT" "SSL" "SASL_PLAINTEXT" "SASL_SSL" }}
{{- if not (has (upper .Values.kafka.securityProtocol) $protocols) }}
{{- fail (printf "kafka.securityProtocol must be one of %s" (join ", " $protocols)) }}
{{- end }}
{{- if not .Values.kafka.bootstrapServers }}
{{- fail "kafka.bootstrapServers is required" }}
{{- end }}
{{- $partitions := int .Values.kafka.partitions }}
{{- if .Values.autoscaling.enabled }}
{{- if gt (int .Values.autoscaling.maxReplicas) $partitions }}
{{- fail (printf "autoscaling.maxReplicas (%d) must be <= kafka.partitions (%d): extra consumers in one group get no partition" (int .Values.autoscaling.maxReplicas) $partitions) }}
{{- end }}
{{- if gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas) }}
{{- fail "autoscaling.minReplicas must be <= autoscaling.maxReplicas" }}
{{- end }}
{{- else if gt (int .Values.replicaCount) $partitions }}
{{- fail (printf "replicaCount (%d) must be <= kafka.partitions (%d): extra consumers in one group get no partition" (int .Values.replicaCount) $partitions) }}
{{- end }}
{{- if and .Values.summarizer.enabled (gt (int .Values.summarizer.replicaCount) $partitions) }}
{{- fail "summarizer.replicaCount must be <= kafka.partitions" }}
{{- end }}
{{- if and .Values.reveal.enabled (not .Values.openbao.enabled) }}
{{- fail "reveal.enabled needs openbao.enabled: the reveal service unwraps its keys through OpenBao" }}
{{- end }}
{{- if and .Values.openbao.enabled (not (has .Values.openbao.auth (list "kubernetes" "approle"))) }}
{{- fail "openbao.auth must be kubernetes or approle" }}
{{- end }}
{{- if and .Values.networkPolicy.enabled (not .Values.networkPolicy.kafka.cidrs) (not .Values.networkPolicy.kafka.namespaceSelector) }}
{{- fail "networkPolicy: set networkPolicy.kafka.cidrs or networkPolicy.kafka.namespaceSelector, or the workers cannot reach Kafka" }}
{{- end }}
{{- end }}

{{/*
Pod template shared by the workers and the summarizer.
Call with (dict "root" $ "component" "worker" "args" (list ...) "resources" ... "gpu" true/false
               "summarizer" true/false "nodeSelector" ... "tolerations" ... "affinity" ...).
*/}}
{{- define "phi-pipeline.podTemplate" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
{{- $gpu := .gpu }}
{{- $fullname := include "phi-pipeline.fullname" $root }}
{{- $tag := default $root.Chart.AppVersion $v.image.tag }}
{{- if and $gpu $v.gpu.imageTag }}{{ $tag = $v.gpu.imageTag }}{{ end }}
{{- $image := printf "%s:%s" $v.image.repository $tag }}
{{- if $v.image.digest }}{{ $image = printf "%s@%s" $v.image.repository $v.image.digest }}{{ end }}
{{- $keyringFile := printf "%s/keyring.json" (trimSuffix "/" $v.keyring.mountPath) }}
{{- $tlsDir := "/etc/phi-pipeline/kafka-tls" }}
{{- $containerSecurity := dict "runAsNonRoot" true "runAsUser" (int $v.runAsUser) "runAsGroup" (int $v.runAsGroup) "readOnlyRootFilesystem" true "allowPrivilegeEscalation" false "privileged" false "capabilities" (dict "drop" (list "ALL")) "seccompProfile" (dict "type" "RuntimeDefault") }}
metadata:
  labels:
    {{- include "phi-pipeline.selectorLabels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
    app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
    app.kubernetes.io/part-of: phi-pipeline
    {{- with $v.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- if or $v.keyring.content $v.podAnnotations }}
  annotations:
    {{- if $v.keyring.content }}
    checksum/keyring: {{ $v.keyring.content | sha256sum }}
    {{- end }}
    {{- with $v.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
spec:
  serviceAccountName: {{ .serviceAccountName | default (include "phi-pipeline.serviceAccountName" $root) }}
  automountServiceAccountToken: false
  enableServiceLinks: false
  terminationGracePeriodSeconds: {{ int $v.terminationGracePeriodSeconds }}
  {{- with $v.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- if and $gpu $v.gpu.runtimeClassName }}
  runtimeClassName: {{ $v.gpu.runtimeClassName }}
  {{- end }}
  {{- with $v.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    runAsNonRoot: true
    runAsUser: {{ int $v.runAsUser }}
    runAsGroup: {{ int $v.runAsGroup }}
    fsGroup: {{ int $v.runAsGroup }}
    fsGroupChangePolicy: OnRootMismatch
    seccompProfile:
      type: RuntimeDefault
  {{- $nodeSelector := deepCopy (.nodeSelector | default dict) }}
  {{- if $gpu }}{{ $nodeSelector = merge $nodeSelector $v.gpu.nodeSelector }}{{ end }}
  {{- with $nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- $tolerations := .tolerations | default list }}
  {{- if $gpu }}{{ $tolerations = concat $tolerations $v.gpu.tolerations }}{{ end }}
  {{- with $tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  affinity:
    {{- if .affinity }}
    {{- toYaml .affinity | nindent 4 }}
    {{- else }}
    podAntiAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
        - weight: 100
          podAffinityTerm:
            topologyKey: kubernetes.io/hostname
            labelSelector:
              matchLabels:
                {{- include "phi-pipeline.selectorLabels" $root | nindent 16 }}
                app.kubernetes.io/component: {{ .component }}
    {{- end }}
  initContainers:
    # The keyring loader refuses group-readable files; the kubelet makes Secret files group-readable
    # under fsGroup. Copy the key file, as the worker's user, into a memory-backed folder with mode 0400.
    - name: keyring
      image: {{ $image | quote }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      command: ["install", "-m", "0400", "/run/phi-keyring-secret/keyring.json", {{ $keyringFile | quote }}]
      securityContext:
        {{- toYaml $containerSecurity | nindent 8 }}
      resources:
        requests:
          cpu: 10m
          memory: 16Mi
        limits:
          cpu: 100m
          memory: 32Mi
      volumeMounts:
        - name: keyring-secret
          mountPath: /run/phi-keyring-secret
          readOnly: true
        - name: keyring
          mountPath: {{ $v.keyring.mountPath }}
  containers:
    - name: {{ .component }}
      image: {{ $image | quote }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      command: ["phi-pipeline"]
      args:
        {{- toYaml .args | nindent 8 }}
      securityContext:
        {{- toYaml $containerSecurity | nindent 8 }}
      ports:
        - name: metrics
          containerPort: {{ int $v.metrics.port }}
          protocol: TCP
        {{- if .reveal }}
        - name: https
          containerPort: {{ int $v.reveal.port }}
          protocol: TCP
        {{- end }}
      env:
        - name: PHI_WORKER_ID
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        - name: PHI_BOOTSTRAP_SERVERS
          value: {{ $v.kafka.bootstrapServers | quote }}
        - name: PHI_SECURITY_PROTOCOL
          value: {{ upper $v.kafka.securityProtocol | quote }}
        - name: PHI_GROUP_ID
          value: {{ $v.kafka.groupId | quote }}
        - name: PHI_PARTITIONS
          value: {{ $v.kafka.partitions | quote }}
        - name: PHI_REPLICATION_FACTOR
          value: {{ $v.kafka.replicationFactor | quote }}
        {{- with $v.kafka.sessionTimeout }}
        - name: PHI_SESSION_TIMEOUT
          value: {{ . | quote }}
        {{- end }}
        {{- with $v.kafka.heartbeatInterval }}
        - name: PHI_HEARTBEAT_INTERVAL
          value: {{ . | quote }}
        {{- end }}
        - name: PHI_TOPIC_INGEST
          value: {{ $v.kafka.topics.ingest | quote }}
        - name: PHI_TOPIC_REDACTED
          value: {{ $v.kafka.topics.redacted | quote }}
        - name: PHI_TOPIC_SUMMARIES
          value: {{ $v.kafka.topics.summaries | quote }}
        - name: PHI_TOPIC_AUDIT
          value: {{ $v.kafka.topics.audit | quote }}
        - name: PHI_TOPIC_DEADLETTER
          value: {{ $v.kafka.topics.deadletter | quote }}
        - name: PHI_TOPIC_RESTRICTED
          value: {{ $v.kafka.topics.restricted | quote }}
        {{- if and (include "phi-pipeline.usesTls" $root) $v.kafka.tls.existingSecret }}
        {{- with $v.kafka.tls.caKey }}
        - name: PHI_SSL_CAFILE
          value: {{ printf "%s/%s" $tlsDir . | quote }}
        {{- end }}
        {{- if and $v.kafka.tls.certKey $v.kafka.tls.keyKey }}
        - name: PHI_SSL_CERTFILE
          value: {{ printf "%s/%s" $tlsDir $v.kafka.tls.certKey | quote }}
        - name: PHI_SSL_KEYFILE
          value: {{ printf "%s/%s" $tlsDir $v.kafka.tls.keyKey | quote }}
        {{- end }}
        {{- end }}
        {{- if include "phi-pipeline.usesSasl" $root }}
        - name: PHI_SASL_MECHANISM
          value: {{ upper $v.kafka.sasl.mechanism | quote }}
        {{- if and $v.kafka.sasl.existingSecret $v.kafka.sasl.usernameKey }}
        - name: PHI_SASL_USERNAME
          valueFrom:
            secretKeyRef:
              name: {{ $v.kafka.sasl.existingSecret }}
              key: {{ $v.kafka.sasl.usernameKey }}
        {{- else }}
        - name: PHI_SASL_USERNAME
          value: {{ required "kafka.sasl.username (or existingSecret with usernameKey) is required with a SASL_* protocol" $v.kafka.sasl.username | quote }}
        {{- end }}
        - name: PHI_SASL_PASSWORD
          valueFrom:
            secretKeyRef:
              name: {{ include "phi-pipeline.saslSecretName" $root }}
              key: {{ if $v.kafka.sasl.existingSecret }}{{ $v.kafka.sasl.passwordKey }}{{ else }}password{{ end }}
        {{- end }}
        - name: PHI_KEYRING_PATH
          value: {{ $keyringFile | quote }}
        {{- if $v.openbao.enabled }}
        {{- include "phi-pipeline.openbaoEnv" (dict "root" $root "reveal" .reveal) | nindent 8 }}
        {{- end }}
        {{- if .reveal }}
        {{- include "phi-pipeline.revealEnv" $root | nindent 8 }}
        {{- end }}
        - name: PHI_SCHEMA_DIR
          value: {{ $v.schemaDir | quote }}
        - name: PHI_DATA_DIR
          value: {{ $v.dataDir | quote }}
        - name: PHI_INPUT_SCHEMA
          value: {{ $v.pipeline.inputSchema | quote }}
        - name: PHI_MAX_MESSAGE_BYTES
          value: {{ $v.pipeline.maxMessageBytes | int64 | quote }}
        - name: PHI_BATCH_SIZE
          value: {{ $v.pipeline.batchSize | quote }}
        - name: PHI_BATCH_TIMEOUT
          value: {{ $v.pipeline.batchTimeout | quote }}
        - name: PHI_LOG_LEVEL
          value: {{ upper $v.pipeline.logLevel | quote }}
        {{- with $v.detector.model }}
        - name: PHI_DETECTOR_MODEL
          value: {{ . | quote }}
        {{- end }}
        - name: PHI_EXECUTION_PROVIDER
          value: {{ if $gpu }}{{ $v.gpu.executionProvider | quote }}{{ else }}{{ $v.detector.executionProvider | quote }}{{ end }}
        - name: PHI_INFERENCE_THREADS
          value: {{ $v.detector.inferenceThreads | quote }}
        - name: PHI_SUMMARIZER_ENABLED
          value: {{ ternary "true" "false" (.summarizer | default false) | quote }}
        {{- if .summarizer }}
        - name: PHI_SUMMARIZER_MODEL
          value: {{ $v.summarizer.model | quote }}
        {{- end }}
        - name: PHI_METRICS_BIND
          value: {{ $v.metrics.bind | quote }}
        - name: PHI_METRICS_PORT
          value: {{ $v.metrics.port | quote }}
        {{- if $v.metrics.token.enabled }}
        - name: PHI_METRICS_TOKEN
          valueFrom:
            secretKeyRef:
              name: {{ include "phi-pipeline.metricsTokenSecretName" $root }}
              key: {{ if $v.metrics.token.existingSecret }}{{ $v.metrics.token.secretKey }}{{ else }}token{{ end }}
        {{- end }}
        {{- with $v.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      startupProbe:
        httpGet:
          path: /healthz
          port: metrics
        periodSeconds: {{ int $v.probes.startup.periodSeconds }}
        failureThreshold: {{ int $v.probes.startup.failureThreshold }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: metrics
        initialDelaySeconds: {{ int $v.probes.liveness.initialDelaySeconds }}
        periodSeconds: {{ int $v.probes.liveness.periodSeconds }}
        timeoutSeconds: {{ int $v.probes.liveness.timeoutSeconds }}
        failureThreshold: {{ int $v.probes.liveness.failureThreshold }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: metrics
        initialDelaySeconds: {{ int $v.probes.readiness.initialDelaySeconds }}
        periodSeconds: {{ int $v.probes.readiness.periodSeconds }}
        timeoutSeconds: {{ int $v.probes.readiness.timeoutSeconds }}
        failureThreshold: {{ int $v.probes.readiness.failureThreshold }}
      resources:
        {{- $resources := deepCopy .resources }}
        {{- if $gpu }}
        {{- $limits := merge (dict "nvidia.com/gpu" (int $v.gpu.count)) ($resources.limits | default dict) }}
        {{- $_ := set $resources "limits" $limits }}
        {{- end }}
        {{- toYaml $resources | nindent 8 }}
      volumeMounts:
        - name: keyring
          mountPath: {{ $v.keyring.mountPath }}
          readOnly: true
        - name: data
          mountPath: {{ $v.dataDir }}
        - name: tmp
          mountPath: /tmp
        {{- if and (include "phi-pipeline.usesTls" $root) $v.kafka.tls.existingSecret }}
        - name: kafka-tls
          mountPath: {{ $tlsDir }}
          readOnly: true
        {{- end }}
        {{- if $v.modelsVolume }}
        - name: models
          mountPath: {{ $v.modelsMountPath }}
          readOnly: true
        {{- end }}
        {{- if $v.openbao.enabled }}
        {{- if or $v.openbao.caSecret (eq $v.openbao.auth "approle") }}
        - name: openbao
          mountPath: /etc/phi-pipeline/openbao
          readOnly: true
        {{- end }}
        {{- if eq $v.openbao.auth "kubernetes" }}
        - name: openbao-sa-token
          mountPath: /var/run/secrets/kubernetes.io/serviceaccount
          readOnly: true
        {{- end }}
        {{- end }}
        {{- if .reveal }}
        - name: reveal-tls
          mountPath: /etc/phi-pipeline/reveal-tls
          readOnly: true
        - name: reveal-access
          mountPath: /etc/phi-pipeline/reveal-access
          readOnly: true
        {{- end }}
  volumes:
    - name: keyring-secret
      secret:
        secretName: {{ include "phi-pipeline.keyringSecretName" $root }}
        defaultMode: 0400
        items:
          - key: {{ if $v.keyring.content }}keyring.json{{ else }}{{ $v.keyring.secretKey }}{{ end }}
            path: keyring.json
    - name: keyring
      emptyDir:
        medium: Memory
        sizeLimit: 1Mi
    - name: data
      emptyDir:
        sizeLimit: {{ $v.dataDirSizeLimit }}
    - name: tmp
      emptyDir:
        sizeLimit: {{ $v.tmpSizeLimit }}
    {{- if and (include "phi-pipeline.usesTls" $root) $v.kafka.tls.existingSecret }}
    - name: kafka-tls
      secret:
        secretName: {{ $v.kafka.tls.existingSecret }}
        # group-readable: with fsGroup the kubelet grants the pod's group read access anyway
        defaultMode: 0440
    {{- end }}
    {{- with $v.modelsVolume }}
    - name: models
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- if $v.openbao.enabled }}
    {{- if or $v.openbao.caSecret (eq $v.openbao.auth "approle") }}
    # OpenBao: its CA and, for AppRole, this workload's secret id (never the keys: those stay wrapped)
    - name: openbao
      projected:
        defaultMode: 0440
        sources:
          {{- with $v.openbao.caSecret }}
          - secret:
              name: {{ . }}
              items:
                - key: ca.crt
                  path: ca.crt
          {{- end }}
          {{- if eq $v.openbao.auth "approle" }}
          - secret:
              name: {{ required "openbao.approle.*SecretIdSecret is required with openbao.auth=approle" (ternary $v.openbao.approle.revealSecretIdSecret $v.openbao.approle.workerSecretIdSecret (.reveal | default false)) }}
              items:
                - key: secret-id
                  path: secret-id
          {{- end }}
    {{- end }}
    {{- if eq $v.openbao.auth "kubernetes" }}
    # a short-lived token for OpenBao's audience only; the Kubernetes API token is never mounted
    - name: openbao-sa-token
      projected:
        defaultMode: 0440
        sources:
          - serviceAccountToken:
              audience: {{ $v.openbao.kubernetes.audience }}
              expirationSeconds: 3600
              path: token
    {{- end }}
    {{- end }}
    {{- if .reveal }}
    - name: reveal-tls
      secret:
        secretName: {{ required "reveal.tlsSecret is required: the reveal service serves HTTPS only" $v.reveal.tlsSecret }}
        defaultMode: 0440
    - name: reveal-access
      secret:
        secretName: {{ required "reveal.accessSecret is required (roles, users, hashed API tokens)" $v.reveal.accessSecret }}
        defaultMode: 0440
        items:
          - key: {{ $v.reveal.accessKey }}
            path: access.json
    {{- end }}
{{- end }}

{{/* OpenBao settings of a workload (worker or reveal): address, login, transit mount. */}}
{{- define "phi-pipeline.openbaoEnv" -}}
{{- $v := .root.Values }}
- name: PHI_OPENBAO_ADDR
  value: {{ $v.openbao.address | quote }}
- name: PHI_OPENBAO_AUTH
  value: {{ $v.openbao.auth | quote }}
- name: PHI_OPENBAO_TRANSIT_MOUNT
  value: {{ $v.openbao.transitMount | quote }}
- name: PHI_OPENBAO_CHECK_INTERVAL
  value: {{ $v.openbao.checkInterval | quote }}
- name: PHI_CUSTODY_GRACE_SECONDS
  value: {{ $v.openbao.custodyGraceSeconds | quote }}
{{- if $v.openbao.caSecret }}
- name: PHI_OPENBAO_CACERT
  value: /etc/phi-pipeline/openbao/ca.crt
{{- end }}
{{- if eq $v.openbao.auth "kubernetes" }}
- name: PHI_OPENBAO_KUBERNETES_ROLE
  value: {{ ternary $v.openbao.kubernetes.revealRole $v.openbao.kubernetes.workerRole (.reveal | default false) | quote }}
{{- else }}
- name: PHI_OPENBAO_ROLE_ID
  value: {{ required "openbao.approle.*RoleId is required with openbao.auth=approle" (ternary $v.openbao.approle.revealRoleId $v.openbao.approle.workerRoleId (.reveal | default false)) | quote }}
- name: PHI_OPENBAO_SECRET_ID_FILE
  value: /etc/phi-pipeline/openbao/secret-id
{{- end }}
{{- end }}

{{/* The reveal service's own settings. */}}
{{- define "phi-pipeline.revealEnv" -}}
{{- $r := .Values.reveal }}
- name: PHI_REVEAL_BIND
  value: "0.0.0.0"
- name: PHI_REVEAL_PORT
  value: {{ $r.port | quote }}
- name: PHI_REVEAL_TLS_CERTFILE
  value: /etc/phi-pipeline/reveal-tls/tls.crt
- name: PHI_REVEAL_TLS_KEYFILE
  value: /etc/phi-pipeline/reveal-tls/tls.key
- name: PHI_REVEAL_ACCESS_FILE
  value: /etc/phi-pipeline/reveal-access/access.json
- name: PHI_REVEAL_RATE_LIMIT
  value: {{ $r.rateLimit | quote }}
- name: PHI_REVEAL_IDLE_TIMEOUT
  value: {{ $r.idleTimeout | quote }}
- name: PHI_REVEAL_SESSION_MAX
  value: {{ $r.sessionMax | quote }}
{{- if $r.oidc.issuer }}
- name: PHI_REVEAL_OIDC_ISSUER
  value: {{ $r.oidc.issuer | quote }}
- name: PHI_REVEAL_OIDC_AUDIENCE
  value: {{ $r.oidc.audience | quote }}
- name: PHI_REVEAL_OIDC_JWKS_URL
  value: {{ required "reveal.oidc.jwksUrl is required with reveal.oidc.issuer" $r.oidc.jwksUrl | quote }}
{{- end }}
{{- end }}

{{- define "phi-pipeline.revealServiceAccountName" -}}
{{- default (printf "%s-reveal" (include "phi-pipeline.fullname" .)) .Values.reveal.serviceAccount.name }}
{{- end }}
