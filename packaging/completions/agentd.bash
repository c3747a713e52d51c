# bash completion for agentd(8)
_agentd() {
  local cur prev words cword
  _init_completion || return
  case "$prev" in
    --policy-dir | --state-dir | --cgroup-root | --bpffs-dir) _filedir -d; return ;;
    --socket) _filedir sock; return ;;
    --log-level) COMPREPLY=($(compgen -W "trace debug info warn error" -- "$cur")); return ;;
    --config | --events-log | --roles | --audit-log | --resolv-conf | --etcd-ca | --etcd-cert | --etcd-key) _filedir; return ;;
    --audit-syslog-socket) _filedir sock; return ;;
    --audit-syslog) COMPREPLY=($(compgen -W "auth authpriv daemon user local0 local1 local2 local3 local4 local5 local6 local7" -- "$cur")); return ;;
    --policy-source) COMPREPLY=($(compgen -W "dir etcd" -- "$cur")); return ;;
    --etcd-endpoints | --etcd-prefix | --etcd-host-name) return ;;
    --reload-settle-ms | --dns-upstream | --dns-port | --dns-ipv6-port-base | --dns-min-ttl | --dns-protected |\
      --dns-learned-quota | --dns-tcp-per-sandbox | --dns-tcp-idle-timeout | --dns-in-flight-per-sandbox |\
      --socket-group | --audit-retention | --audit-max-mb | --sandbox-uids | --sandbox-nice | --audit-max-denials-per-second |\
      --sandbox-records-per-second | --sandbox-record-burst | --approval-requests-per-sandbox |\
      --approval-requests-per-tenant | --grants-per-tenant | --max-sandboxes | --retire-grace | --metrics-listen | --metrics-sandboxes) return ;;
    --dns-refusal) COMPREPLY=($(compgen -W "refused nxdomain" -- "$cur")); return ;;
  esac
  COMPREPLY=($(compgen -W "--config --policy-dir --state-dir --socket --cgroup-root --bpffs-dir --sandbox-uids --sandbox-nice --events-log
    --policy-source --etcd-endpoints --etcd-prefix --etcd-ca --etcd-cert --etcd-key --etcd-host-name
    --log-level --no-watch --reload-settle-ms --no-dns --dns-upstream --resolv-conf --dns-port --dns-ipv6-port-base
    --dns-min-ttl --dns-learned-quota --dns-tcp-per-sandbox --dns-tcp-idle-timeout --dns-in-flight-per-sandbox
    --dns-refusal --dns-protected --roles --socket-group --audit-log --audit-syslog --audit-syslog-socket --audit-retention
    --audit-max-mb --audit-max-denials-per-second --sandbox-records-per-second --sandbox-record-burst
    --approval-requests-per-sandbox --approval-requests-per-tenant --grants-per-tenant --max-sandboxes --retire-grace --metrics-listen --metrics-sandboxes --help --version" -- "$cur"))
}
complete -F _agentd agentd
