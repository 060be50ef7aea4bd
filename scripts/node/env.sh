# Source it (`. scripts/node/env.sh`, bash or zsh): puts the project's Node (scripts/node/provision.sh installs it
# into .tributary/ once) first on PATH in this shell, so npm, npx and the npm scripts run on it; native addons
# (node-gyp) build against its headers, not those of the system's Node.
if [ -n "${BASH_SOURCE:-}" ]; then
  _tributary_node_dir=$(dirname "${BASH_SOURCE[0]}")
elif [ -n "${ZSH_VERSION:-}" ]; then
  _tributary_node_dir=$(dirname "${(%):-%x}")
else
  _tributary_node_dir=scripts/node # other shells: source it from the checkout's root
fi
if _tributary_node_bin=$(bash "$_tributary_node_dir/provision.sh"); then
  case "$PATH" in
    "$_tributary_node_bin:"*) ;;
    *) PATH="$_tributary_node_bin:$PATH" && export PATH ;;
  esac
  npm_config_nodedir=$(dirname "$_tributary_node_bin") && export npm_config_nodedir
  hash -r 2>/dev/null || true
  echo "node $(node --version) from ${_tributary_node_bin}" >&2
  unset _tributary_node_dir _tributary_node_bin
else
  unset _tributary_node_dir _tributary_node_bin
  false
fi
