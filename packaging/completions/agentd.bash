# bash completion for agentd(8)
_agentd() {
  local cur prev words cword
  _init_completion || return
  case "$prev" in
    --config | --events-log) _filedir; return ;;
    --policy-dir | --state-dir | --cgroup-root | --bpffs-dir) _filedir -d; return ;;
    --socket) _filedir sock; return ;;
    --log-level) COMPREPLY=($(compgen -W "trace debug info warn error" -- "$cur")); return ;;
    --reload-settle-ms) return ;;
  esac
  COMPREPLY=($(compgen -W "--config --policy-dir --state-dir --socket --cgroup-root --bpffs-dir --events-log
    --log-level --no-watch --reload-settle-ms --help --version" -- "$cur"))
}
complete -F _agentd agentd
