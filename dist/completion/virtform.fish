# fish completion for virtform. What to offer comes from `virtform __complete`, which asks the
# command line itself: commands, flags, and values by kind (files, directories, domain names).

function __virtform_complete
    set -l typed (commandline -opc)
    set -l reply ($typed[1] __complete $typed[2..-1] (commandline -ct) 2>/dev/null)
    test (count $reply) -gt 0; or return
    switch $reply[1]
        case files
            __fish_complete_path (commandline -ct)
        case dirs
            __fish_complete_directories (commandline -ct)
        case '*'
            printf '%s\n' $reply[2..-1]
    end
end

complete -c virtform -f -a '(__virtform_complete)'
