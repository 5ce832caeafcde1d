# rce's preloaded launcher for Elixir (images/preload/README.md). rce-runner starts
# `env ERL_FLAGS=… elixir /opt/rce/preload/elixir.exs` in a warm container before any
# job: the BEAM boots and starts Elixir (the slow part, ~0.4 CPU-seconds), this script
# evaluates one small snippet (loading the parser, expander and evaluator a script
# needs), then blocks reading the go signal on descriptor 3 (a big-endian u32 length,
# then the job's argv, each argument NUL-terminated: "env", "ERL_FLAGS=…", "elixir",
# "main.exs", args…). It then hands what follows "elixir" to Kernel.CLI.main/1, the
# function `elixir main.exs args…` itself ends up in: it sets System.argv/0, runs the
# script in a process of its own (so an uncaught error's stacktrace and report are the
# CLI's, not this launcher's), runs at_exit callbacks and halts with the status.
{_, _} =
  Code.eval_string(~S"""
  for x <- [1], do: "#{x}" |> String.length()
  """)

go = Port.open({:fd, 3, 3}, [:in, :binary, :eof])

read = fn read, received ->
  case received do
    <<length::32, argv::binary-size(length), _::binary>> ->
      argv

    _ ->
      receive do
        {^go, {:data, data}} -> read.(read, received <> data)
        {^go, :eof} -> ""
      end
  end
end

argv = read.(read, "") |> :binary.split(<<0>>, [:global]) |> Enum.drop(-1)

case Enum.drop_while(argv, &(&1 != "elixir")) do
  [_elixir | [_ | _] = args] -> Kernel.CLI.main(args)
  # no job for this launcher
  _ -> System.halt(0)
end
