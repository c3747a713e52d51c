# bash completion for agentctl(1)
_agentctl() {
  local cur prev words cword
  _init_completion || return

  # The subcommand path so far (run, policy explain, sandbox adopt, ...),
  # and the socket named on the line (for the daemon's candidates).
  local i path="" socket=""
  for ((i = 1; i < cword; i++)); do
    case "${words[i]}" in
      --) [[ $path == run ]] && { _command_offset $((i + 1)); return; } ;;
      --socket) socket=${words[i + 1]}; ((i++)) ;;
      # Options that take a value: the value is no subcommand.
      --agent | --user | --dest | --policy-dir | --cgroup | -o | --output | --scope | --for | --state | --since | \
        --decision | --limit | --tenant | --expand | --ports | --interval | -d | --iterations | -n | --sandboxes | \
        --container | --engine | --sni | --etcd-endpoints | --etcd-prefix | --etcd-ca | --etcd-cert | --etcd-key | \
        --base-revision) ((i++)) ;;
      -*) ;;
      *) [[ $path == "" || $path == policy || $path == sandbox || $path == approvals || $path == grants ||
        $path == fleet ]] &&
        path="${path:+$path }${words[i]}" ;;
    esac
  done
  # Request ids, grant ids, agents and tenants from the running daemon
  # (agentctl complete prints nothing when it cannot ask).
  _agentctl_daemon() { agentctl ${socket:+--socket "$socket"} complete "$1" 2>/dev/null; }

  case "$prev" in
    --socket) _filedir sock; return ;;
    --agent) COMPREPLY=($(compgen -W "$(_agentctl_daemon agents)" -- "$cur")); return ;;
    --tenant) COMPREPLY=($(compgen -W "$(_agentctl_daemon tenants)" -- "$cur")); return ;;
    --expand) COMPREPLY=($(compgen -W "$(_agentctl_daemon agents)" -- "$cur")); return ;;
    --policy-dir) _filedir -d; return ;;
    --cgroup) _filedir -d; return ;;
    --etcd-ca | --etcd-cert | --etcd-key) _filedir; return ;;
    --etcd-endpoints | --etcd-prefix | --base-revision) return ;;
    --user) COMPREPLY=($(compgen -u -- "$cur")); return ;;
    -o | --output) COMPREPLY=($(compgen -W "table json" -- "$cur")); return ;;
    --dest | --for | --since | --limit | --ports | --interval | -d | --iterations | -n | --sandboxes | --sni | \
      --container) return ;;
    --scope) COMPREPLY=($(compgen -W "agent team tenant" -- "$cur")); return ;;
    --state) COMPREPLY=($(compgen -W "pending approved denied expired all" -- "$cur")); return ;;
    --decision) COMPREPLY=($(compgen -W "deny approved denied allow expired revoked reopened loaded refused created adopted retired" -- "$cur")); return ;;
  esac

  local words_for
  case "$path" in
    "") words_for="run policy status top sandbox watch approvals grants audit oci-hook fleet --socket --help --version" ;;
    top) words_for="--interval -d --iterations -n --limit -o --output" ;;
    approvals) words_for="list approve deny reopen" ;;
    "approvals list") words_for="--state --expand --agent --tenant -o --output" ;;
    "approvals approve") words_for="--all --agent --tenant --scope --for --always --ports -o --output" ;;
    "approvals deny") words_for="--all --agent --tenant --for -o --output" ;;
    "approvals reopen") words_for="-o --output" ;;
    watch) words_for="--agent --tenant --fleet --etcd-endpoints --etcd-prefix --etcd-ca --etcd-cert --etcd-key" ;;
    grants) words_for="list revoke add export" ;;
    "grants add") words_for="--agent --dest --scope --for --always -o --output" ;;
    "grants export") words_for="--tenant" ;;
    "grants list" | "grants revoke") words_for="-o --output" ;;
    audit) words_for="--agent --since --decision --limit --follow -f -o --output" ;;
    run) words_for="--agent --user --unknown-tenant --" ;;
    policy) words_for="validate explain apply diff push" ;;
    "policy validate" | "policy diff")
      # Options after a dash; otherwise candidate files and dirs.
      if [[ $cur == -* ]]; then
        [[ $path == "policy validate" ]] && words_for="--strict -o --output" ||
          words_for="-o --output --fleet --etcd-endpoints --etcd-prefix --etcd-ca --etcd-cert --etcd-key"
      else
        _filedir '@(yaml|yml)'
        return
      fi ;;
    "policy push")
      if [[ $cur == -* ]]; then
        words_for="--base-revision -o --output --etcd-endpoints --etcd-prefix --etcd-ca --etcd-cert --etcd-key"
      else
        _filedir -d
        return
      fi ;;
    fleet) words_for="status forget" ;;
    "fleet status") words_for="-o --output --etcd-endpoints --etcd-prefix --etcd-ca --etcd-cert --etcd-key" ;;
    "fleet forget") words_for="--etcd-endpoints --etcd-prefix --etcd-ca --etcd-cert --etcd-key" ;;
    "policy explain") words_for="--agent --dest --inbound --sni --policy-dir -o --output" ;;
    oci-hook) words_for="" ;;
    status) words_for="--sandboxes -o --output" ;;
    "policy apply" | "sandbox list") words_for="-o --output" ;;
    sandbox) words_for="list profile adopt remove" ;;
    "sandbox adopt")
      case "$prev" in
        --engine) COMPREPLY=($(compgen -W "auto podman docker" -- "$cur")); return ;;
      esac
      words_for="--agent --cgroup --container --engine --unknown-tenant" ;;
    "sandbox remove") words_for="--agent" ;;
    "sandbox profile") words_for="--agent --policy-dir -o --output" ;;
  esac
  # An id where the command takes one.
  if [[ $cur != -* ]]; then
    case "$path" in
      "approvals approve" | "approvals deny") COMPREPLY=($(compgen -W "$(_agentctl_daemon pending)" -- "$cur")); return ;;
      "approvals reopen") COMPREPLY=($(compgen -W "$(_agentctl_daemon decided)" -- "$cur")); return ;;
      "grants revoke") COMPREPLY=($(compgen -W "$(_agentctl_daemon grants)" -- "$cur")); return ;;
    esac
  fi
  COMPREPLY=($(compgen -W "$words_for --help" -- "$cur"))
}
complete -F _agentctl agentctl
