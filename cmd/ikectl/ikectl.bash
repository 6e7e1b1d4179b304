# bash completion for ikectl. Load it with
#   source <(ikectl completion bash)
# or install the output as /usr/share/bash-completion/completions/ikectl.
_ikectl() {
    local cur prev words cword
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD-1]}
    local commands="status list-sas list-conns list-certs list-leases monitor initiate terminate rekey reauth reload stats completion"
    local flags="-socket -json -timeout"

    case $prev in
    -socket|--socket)
        COMPREPLY=($(compgen -f -- "$cur"))
        return
        ;;
    -timeout|--timeout)
        COMPREPLY=($(compgen -W "5s 30s 1m" -- "$cur"))
        return
        ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
        return
    fi

    # The command is the first word that is neither a flag nor a flag's value.
    local i cmd= socket=
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        -socket|--socket) socket=${COMP_WORDS[i+1]}; ((i++)) ;;
        -timeout|--timeout) ((i++)) ;;
        -*) ;;
        *) cmd=${COMP_WORDS[i]}; break ;;
        esac
    done
    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        return
    fi
    case $cmd in
    initiate|terminate|rekey|reauth|list-sas)
        # Connection names from the running daemon, first column of list-conns.
        local names
        names=$(ikectl ${socket:+-socket "$socket"} -timeout 2s list-conns 2>/dev/null | awk 'NR > 1 { print $1 }')
        COMPREPLY=($(compgen -W "$names" -- "$cur"))
        ;;
    completion)
        COMPREPLY=($(compgen -W "bash" -- "$cur"))
        ;;
    esac
}
complete -F _ikectl ikectl
