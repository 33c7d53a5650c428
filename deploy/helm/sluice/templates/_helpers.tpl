{{/* Names, labels and the values every template derives from. */}}

{{- define "sluice.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The StatefulSet's name, and so the prefix of every pod name (<fullname>-<ordinal>). */}}
{{- define "sluice.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "sluice.headlessName" -}}
{{- printf "%s-headless" (include "sluice.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sluice.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sluice.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "sluice.labels" -}}
{{ include "sluice.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* metadata.annotations from commonAnnotations, or nothing; call as {{- include ... }}. */}}
{{- define "sluice.annotations" -}}
{{- with .Values.commonAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
{{- end }}
{{- end -}}

{{- define "sluice.image" -}}
{{- $registry := default .Values.image.registry .Values.global.imageRegistry -}}
{{- $repo := .Values.image.repository -}}
{{- if $registry }}{{ $repo = printf "%s/%s" $registry $repo }}{{ end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repo .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "sluice.imagePullSecrets" -}}
{{- $secrets := concat .Values.global.imagePullSecrets .Values.image.pullSecrets | uniq -}}
{{- if $secrets }}
imagePullSecrets:
{{- range $secrets }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "sluice.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "sluice.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Broker count: replicaCount, or the newer Bitnami layout's controller + broker counts. */}}
{{- define "sluice.replicas" -}}
{{- $n := int .Values.replicaCount -}}
{{- $newer := 0 -}}
{{- $set := false -}}
{{- range $part := list "controller" "broker" -}}
{{- $v := index $.Values $part -}}
{{- if and (kindIs "map" $v) (hasKey $v "replicaCount") -}}
{{- $newer = add $newer (int $v.replicaCount) -}}
{{- $set = true -}}
{{- end -}}
{{- end -}}
{{- if $set }}{{ $newer }}{{ else }}{{ $n }}{{ end -}}
{{- end -}}

{{/*
How many pods are voters of the metadata quorum (ordinals 0..n-1): controller.replicaCount when
the newer Bitnami layout gives it, else 3 from three replicas on, 1 with two (a quorum of two
survives no failure, so it would only add a way to stop), and none with one replica, which runs
exactly as a single node always has. Pods after the voters are brokers only, so scaling out never
changes the quorum.
*/}}
{{- define "sluice.voterCount" -}}
{{- $n := int (include "sluice.replicas" .) -}}
{{- $c := 0 -}}
{{- if and (kindIs "map" .Values.controller) (hasKey .Values.controller "replicaCount") -}}
{{- $c = min (int .Values.controller.replicaCount) $n -}}
{{- else if ge $n 3 -}}
{{- $c = 3 -}}
{{- else if eq $n 2 -}}
{{- $c = 1 -}}
{{- end -}}
{{- $c -}}
{{- end -}}

{{/* controller.quorum.voters: id@<pod>.<headless>.<namespace>.svc.<domain>:<controller port>. */}}
{{- define "sluice.quorumVoters" -}}
{{- $voters := list -}}
{{- range $i := until (int (include "sluice.voterCount" .)) -}}
{{- $host := printf "%s-%d.%s.%s.svc.%s" (include "sluice.fullname" $) $i (include "sluice.headlessName" $) $.Release.Namespace $.Values.clusterDomain -}}
{{- $voters = append $voters (printf "%d@%s:%v" (add $i $.Values.minId) $host $.Values.listeners.controller.containerPort) -}}
{{- end -}}
{{- join "," $voters -}}
{{- end -}}

{{/* The client Service's in-cluster address, host:port. */}}
{{- define "sluice.bootstrap" -}}
{{- printf "%s.%s.svc.%s:%v" (include "sluice.fullname" .) .Release.Namespace .Values.clusterDomain .Values.service.ports.client -}}
{{- end -}}

{{/* Fails the render on listener protocols the broker does not implement yet. */}}
{{- define "sluice.checkProtocols" -}}
{{- $checks := dict "listeners.client.protocol" .Values.listeners.client.protocol "listeners.interbroker.protocol" .Values.listeners.interbroker.protocol "listeners.controller.protocol" .Values.listeners.controller.protocol -}}
{{- if .Values.externalAccess.enabled -}}
{{- $_ := set $checks "listeners.external.protocol" .Values.listeners.external.protocol -}}
{{- end -}}
{{- range $key, $protocol := $checks -}}
{{- if ne (upper $protocol) "PLAINTEXT" -}}
{{- fail (printf "%s: %s is not implemented by Sluice yet; only PLAINTEXT listeners exist (TLS and SASL are wired in the chart for when they land)" $key $protocol) -}}
{{- end -}}
{{- end -}}
{{- range $key := list "clientProtocol" "interBrokerProtocol" -}}
{{- $p := index $.Values.auth $key -}}
{{- if ne (lower $p) "plaintext" -}}
{{- fail (printf "auth.%s: %s is not implemented by Sluice yet; only plaintext exists" $key $p) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The ordinal of the last broker, and a list 0..n-1 for ranging over brokers. */}}
{{- define "sluice.ordinals" -}}
{{- $n := int (include "sluice.replicas" .) -}}
{{- toJson (untilStep 0 $n 1) -}}
{{- end -}}

{{/*
The broker configuration as a map: the chart's defaults, the Bitnami legacy keys, then
.Values.config (a map, or server.properties text) over them.
*/}}
{{- define "sluice.brokerConfig" -}}
{{- $v := .Values -}}
{{- $client := $v.listeners.client -}}
{{- $external := $v.listeners.external -}}
{{- $listeners := list (printf "%s://:%v" $client.name $client.containerPort) -}}
{{- $podHost := printf "${POD_NAME}.%s.${POD_NAMESPACE}.svc.%s" (include "sluice.headlessName" .) $v.clusterDomain -}}
{{- $advertised := list (printf "%s://%s:%v" $client.name $podHost $client.containerPort) -}}
{{- $protocolMap := list (printf "%s:%s" $client.name (upper $client.protocol)) -}}
{{- if $v.externalAccess.enabled -}}
{{- $listeners = append $listeners (printf "%s://:%v" $external.name $external.containerPort) -}}
{{- $advertised = append $advertised (printf "%s://${SLUICE_EXTERNAL_HOST}:${SLUICE_EXTERNAL_PORT}" $external.name) -}}
{{- $protocolMap = append $protocolMap (printf "%s:%s" $external.name (upper $external.protocol)) -}}
{{- end -}}
{{- $override := $v.listeners.advertisedListeners | default $v.advertisedListeners -}}
{{- if kindIs "slice" $override }}{{ $override = join "," $override }}{{ end -}}
{{- $replicas := int (include "sluice.replicas" .) -}}
{{- $voters := int (include "sluice.voterCount" .) -}}
{{- $controller := $v.listeners.controller -}}
{{- if gt $voters 0 -}}
{{- /* A voter's setup.sh sets SLUICE_CONTROLLER_LISTENER to ",CONTROLLER://:9093"; a broker-only
       pod's to "" (KRaft refuses a controller listener on it). */ -}}
{{- $protocolMap = append $protocolMap (printf "%s:%s" $controller.name (upper $controller.protocol)) -}}
{{- end -}}
{{- $rf := ge $replicas 3 | ternary 3 (max $replicas 1) -}}
{{- $cfg := dict
  "node.id" "${SLUICE_NODE_ID}"
  "log.dirs" $v.persistence.mountPath
  "listeners" (printf "%s%s" (join "," $listeners) (gt $voters 0 | ternary "${SLUICE_CONTROLLER_LISTENER}" ""))
  "advertised.listeners" (default (join "," $advertised) $override)
  "listener.security.protocol.map" (default (join "," $protocolMap) $v.listeners.securityProtocolMap)
  "http.listeners" (printf "http://0.0.0.0:%v" $v.http.containerPort)
  "delete.topic.enable" $v.deleteTopicEnable
  "auto.create.topics.enable" $v.autoCreateTopicsEnable
  "num.partitions" $v.numPartitions
  "default.replication.factor" (ne (toString $v.defaultReplicationFactor) "" | ternary $v.defaultReplicationFactor $rf)
  "min.insync.replicas" (ne (toString $v.minInsyncReplicas) "" | ternary $v.minInsyncReplicas (ge $replicas 3 | ternary 2 1))
  "offsets.topic.replication.factor" (ne (toString $v.offsetsTopicReplicationFactor) "" | ternary $v.offsetsTopicReplicationFactor $rf)
  "log.retention.hours" $v.logRetentionHours
-}}
{{- if gt $voters 0 -}}
{{- $_ := set $cfg "process.roles" "${SLUICE_PROCESS_ROLES}" -}}
{{- $_ := set $cfg "controller.quorum.voters" (include "sluice.quorumVoters" .) -}}
{{- $_ := set $cfg "controller.listener.names" $controller.name -}}
{{- end -}}
{{- $legacy := dict
  "log.retention.bytes" $v.logRetentionBytes
  "log.retention.check.interval.ms" $v.logRetentionCheckIntervalMs
  "log.segment.bytes" $v.logSegmentBytes
  "log.flush.interval.messages" $v.logFlushIntervalMessages
  "log.flush.interval.ms" $v.logFlushIntervalMs
  "message.max.bytes" $v.maxMessageBytes
  "socket.request.max.bytes" $v.socketRequestMaxBytes
-}}
{{- range $key, $value := $legacy -}}
{{- if ne (toString $value) "" }}{{ $_ := set $cfg $key (trimPrefix "_" (toString $value)) }}{{ end -}}
{{- end -}}
{{- if $v.image.debug }}{{ $_ := set $cfg "log.level" "debug" }}{{ end -}}
{{- if kindIs "string" $v.config -}}
{{- range $line := splitList "\n" $v.config -}}
{{- $line = trim $line -}}
{{- if and $line (not (hasPrefix "#" $line)) (contains "=" $line) -}}
{{- $kv := regexSplit "=" $line 2 -}}
{{- $_ := set $cfg (trim (index $kv 0)) (trim (index $kv 1)) -}}
{{- end -}}
{{- end -}}
{{- else if $v.config -}}
{{- range $key, $value := $v.config -}}
{{- $_ := set $cfg $key $value -}}
{{- end -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* Keys set in values that mean nothing to Sluice, for NOTES.txt. */}}
{{- define "sluice.ignoredKeys" -}}
{{- $v := .Values -}}
{{- $ignored := list -}}
{{- if $v.zookeeper.enabled }}{{ $ignored = append $ignored "zookeeper.* (Sluice keeps its own metadata; no ZooKeeper)" }}{{ end -}}
{{- if $v.externalZookeeper.servers }}{{ $ignored = append $ignored "externalZookeeper.servers" }}{{ end -}}
{{- if $v.metrics.jmx.enabled }}{{ $ignored = append $ignored "metrics.jmx.* (no JVM: the broker serves the JMX exporter's series on /metrics itself)" }}{{ end -}}
{{- if $v.heapOpts }}{{ $ignored = append $ignored (printf "heapOpts (%s: no JVM heap; size memory with resources)" $v.heapOpts) }}{{ end -}}
{{- range $key := list "jvmFlags" "log4j" "existingLog4jConfigMap" "logPersistence" "logsDirs" "zookeeperChrootPath" "zookeeperConnectionTimeoutMs" "transactionStateLogReplicationFactor" "transactionStateLogMinIsr" "numIoThreads" "numNetworkThreads" "numRecoveryThreadsPerDataDir" "socketSendBufferBytes" "socketReceiveBufferBytes" "interBrokerProtocolVersion" "clusterId" "sasl" "controller" "broker" -}}
{{- if hasKey $v $key }}{{ $ignored = append $ignored $key }}{{ end -}}
{{- end -}}
{{- toJson $ignored -}}
{{- end -}}

{{/*
Affinity from the Bitnami presets: soft prefers, hard requires, brokers of this release on
different nodes (anti-affinity) or together (affinity); nodeAffinityPreset pins to labelled nodes.
*/}}
{{- define "sluice.affinity" -}}
{{- $term := dict "labelSelector" (dict "matchLabels" (merge (include "sluice.selectorLabels" . | fromYaml) (dict "app.kubernetes.io/component" "broker"))) "topologyKey" "kubernetes.io/hostname" -}}
{{- $out := dict -}}
{{- range $kind, $preset := dict "podAntiAffinity" .Values.podAntiAffinityPreset "podAffinity" .Values.podAffinityPreset -}}
{{- if eq $preset "soft" -}}
{{- $_ := set $out $kind (dict "preferredDuringSchedulingIgnoredDuringExecution" (list (dict "weight" 1 "podAffinityTerm" $term))) -}}
{{- else if eq $preset "hard" -}}
{{- $_ := set $out $kind (dict "requiredDuringSchedulingIgnoredDuringExecution" (list $term)) -}}
{{- end -}}
{{- end -}}
{{- $node := .Values.nodeAffinityPreset -}}
{{- if and $node.type $node.key -}}
{{- $expr := dict "key" $node.key "operator" "In" "values" $node.values -}}
{{- if eq $node.type "soft" -}}
{{- $_ := set $out "nodeAffinity" (dict "preferredDuringSchedulingIgnoredDuringExecution" (list (dict "weight" 1 "preference" (dict "matchExpressions" (list $expr))))) -}}
{{- else if eq $node.type "hard" -}}
{{- $_ := set $out "nodeAffinity" (dict "requiredDuringSchedulingIgnoredDuringExecution" (dict "nodeSelectorTerms" (list (dict "matchExpressions" (list $expr))))) -}}
{{- end -}}
{{- end -}}
{{- if $out }}{{ toYaml $out }}{{ end -}}
{{- end -}}
