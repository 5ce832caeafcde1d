# rce's preloaded launcher for Ruby (images/preload/README.md). rce-runner
# starts `ruby /opt/rce/preload/ruby.rb` in a warm container before any job:
# ruby boots and loads RubyGems (the slow part, ~100 ms), then this script
# blocks reading the go signal on descriptor 3 (a big-endian u32 length, then
# the job's argv, each argument NUL-terminated: "ruby", "main.rb", args…). The program then runs as
# `ruby main.rb args…` would run it: at the top level, with $0, __FILE__,
# ARGV and DATA (after __END__) set, and an uncaught exception reported
# without this launcher's frames (exit status 1; SystemExit as raised).
proc do
  go = IO.new(3, 'rb')
  header = go.read(4)
  argv = header&.bytesize == 4 ? go.read(header.unpack1("N")).to_s.split("\0", -1)[0...-1] : []
  argv.each { |arg| arg.force_encoding(Encoding.find('locale')) } # as ruby's own ARGV
  go.close
  exit(0) if argv.length < 2 # no job for this launcher

  script = argv[1]
  ARGV.replace(argv[2..])
  $0 = script
  source = File.read(script)
  if (data_at = source =~ /^__END__\r?\n/)
    data = File.open(script)
    data.seek(source.byteslice(0, data_at).bytesize + $&.bytesize)
    Object.const_set(:DATA, data)
  end
  launcher = __FILE__
  begin
    TOPLEVEL_BINDING.eval(source, script, 1)
  rescue Exception => e # rubocop:disable Lint/RescueException
    e.set_backtrace(e.backtrace.take_while { |line| !line.start_with?(launcher) }) if e.backtrace
    raise e
  end
end.call
