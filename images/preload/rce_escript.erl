%% rce's preloaded launcher for Erlang escripts (images/preload/README.md).
%%
%% rce-runner starts `env ERL_FLAGS=… erl +B -boot no_dot_erlang -noshell
%% -pa /opt/rce/preload -run rce_escript start -extra main.erl` in a warm
%% container before any job: the emulator flags escript itself starts `erl`
%% with, so the BEAM boots (the slow part) exactly as for `escript main.erl`.
%% start/0 drops /opt/rce/preload from the code path again, loads the
%% modules escript parses and interprets a script with, then blocks reading
%% the go signal on descriptor 3 (a big-endian u32 length, then the job's
%% argv, each argument NUL-terminated: "env", "ERL_FLAGS=…", "escript",
%% "main.erl", args…). It then tail-calls escript:start/0 as `-run escript
%% start` would, so the script runs in the same process with the same stack
%% below it (an uncaught error's report is escript's own, frame for frame).
%%
%% escript reads its script name and arguments from
%% init:get_plain_arguments(), which are this BEAM's (only "main.erl"): the
%% image build (build/0) writes a copy of escript whose calls to it read the
%% go signal's instead (persistent_term), and start/0 loads that copy in
%% escript's place. A program calling init:get_plain_arguments() itself still
%% sees ["main.erl"], and init:get_arguments() shows the -pa. ESCRIPT_NAME is
%% set in the environment, as the escript program does.
-module(rce_escript).
-export([start/0, build/0]).

-define(PATCHED, "/opt/rce/preload/escript.patched").

start() ->
    true = code:del_path(filename:dirname(code:which(?MODULE))),
    {ok, Patched} = file:read_file(?PATCHED),
    {module, escript} = code:load_binary(escript, code:which(escript), Patched),
    [{module, _} = code:ensure_loaded(Module) || Module <- script_modules()],
    case lists:dropwhile(fun(Arg) -> Arg =/= "escript" end, read_go()) of
        [_escript | [Script | _] = ScriptAndArgs] ->
            persistent_term:put(?MODULE, ScriptAndArgs),
            %% as the escript program sets it before it starts erl
            true = os:putenv("ESCRIPT_NAME", Script),
            escript:start();
        _ ->
            %% no job for this launcher
            erlang:halt(0)
    end.

%% What escript loads to parse and interpret a script.
script_modules() ->
    [epp, erl_scan, erl_parse, erl_lint, erl_eval, erl_expand_records, erl_internal,
     erl_anno, erl_features, sets, ordsets, dict, io_lib_format, io_lib_pretty,
     erl_error, beam_lib, string, unicode].

%% Run at image build time: writes escript with its calls to
%% init:get_plain_arguments() answered from persistent_term.
build() ->
    {ok, {escript, [{abstract_code, {raw_abstract_v1, Forms}}]}} =
        beam_lib:chunks(code:which(escript), [abstract_code]),
    {ok, escript, Binary} =
        compile:forms(plain_arguments_from_go(Forms), [binary, return_errors]),
    ok = file:write_file(?PATCHED, Binary).

plain_arguments_from_go({call, A, {remote, _, {atom, _, init}, {atom, _, get_plain_arguments}}, []}) ->
    {call, A, {remote, A, {atom, A, persistent_term}, {atom, A, get}}, [{atom, A, ?MODULE}]};
plain_arguments_from_go(Tuple) when is_tuple(Tuple) ->
    list_to_tuple(plain_arguments_from_go(tuple_to_list(Tuple)));
plain_arguments_from_go(List) when is_list(List) ->
    [plain_arguments_from_go(Element) || Element <- List];
plain_arguments_from_go(Other) ->
    Other.

%% The go signal's arguments, as init would give them (empty at EOF).
read_go() ->
    Go = open_port({fd, 3, 3}, [in, binary, eof]),
    Payload = read_go(Go, <<>>),
    Args = binary:split(Payload, <<0>>, [global]),
    [unicode:characters_to_list(Arg) || Arg <- lists:droplast(Args)].

read_go(_Go, <<Length:32, Argv:Length/binary, _/binary>>) ->
    Argv;
read_go(Go, Received) ->
    receive
        {Go, {data, Data}} -> read_go(Go, <<Received/binary, Data/binary>>);
        {Go, eof} -> <<>>
    end.
