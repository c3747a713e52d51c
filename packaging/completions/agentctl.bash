# bash completion for agentctl(1)
_agentctl() {
  local cur prev words cword
  _init_completion || return

  # The subcommand path so far (run, policy explain, sandbox adopt, ...).
  local i path=""
  for ((i = 1; i < cword; i++)); do
    case "${words[i]}" in
      --) [[ $path == run ]] && { _command_offset $((i + 1)); return; } ;;
      --socket | --agent | --user | --dest | --policy-dir | --cgroup | -o | --output) ((i++)) ;;
      -*) ;;
      *) [[ $path == "" || $path == policy || $path == sandbox ]] && path="${path:+$path }${words[i]}" ;;
    esac
  done

  case "$prev" in
    --socket) _filedir sock; return ;;
    --policy-dir) _filedir -d; return ;;
    --cgroup) _filedir -d; return ;;
    --user) COMPREPLY=($(compgen -u -- "$cur")); return ;;
    -o | --output) COMPREPLY=($(compgen -W "table json" -- "$cur")); return ;;
    --agent | --dest) return ;;
  esac

  local words_for
  case "$path" in
    "") words_for="run policy status sandbox --socket --help --version" ;;
    run) words_for="--agent --user --" ;;
    policy) words_for="validate explain apply diff" ;;
    "policy validate") _filedir '@(yaml|yml)'; return ;;
    "policy explain") words_for="--agent --dest --policy-dir -o --output" ;;
    "policy apply" | "policy diff" | status | "sandbox list") words_for="-o --output" ;;
    sandbox) words_for="list adopt" ;;
    "sandbox adopt") words_for="--agent --cgroup" ;;
  esac
  COMPREPLY=($(compgen -W "$words_for --help" -- "$cur"))
}
complete -F _agentctl agentctl
