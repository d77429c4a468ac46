# bash completion for virtform. What to offer comes from `virtform __complete`, which asks the
# command line itself: commands, flags, and values by kind (files, directories, domain names).

_virtform() {
  # bash splits words at the ':' of a URI (test:///srv/host.xml); join them again for virtform.
  local words=() i word
  for ((i = 1; i <= COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    if ((${#words[@]} > 0)) && [[ $word == : || ${words[-1]} == *: ]] && ((i < COMP_CWORD)); then
      words[-1]+=$word
    else
      words+=("$word")
    fi
  done
  local current=${COMP_WORDS[COMP_CWORD]}

  local reply
  mapfile -t reply < <("${COMP_WORDS[0]}" __complete "${words[@]}" 2>/dev/null)
  ((${#reply[@]} > 0)) || return 0
  case ${reply[0]} in
    files)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -f -- "$current")
      ;;
    dirs)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -d -- "$current")
      ;;
    *)
      COMPREPLY=("${reply[@]:1}")
      ;;
  esac
}

complete -F _virtform virtform
