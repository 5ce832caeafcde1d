# R's preloaded launcher, run as R's --file (R --no-echo --no-restore
# --file=/opt/rce/preload/rscript.R, what Rscript starts): R has started,
# loaded its default packages and run its profiles by the time its
# read-eval-print loop reads this. The one expression below waits for the go
# signal; rscript.so (rscript.c) then gives R Rscript's command line and
# points the descriptor this file is read from at the program's file, so the
# loop's next line is the program's first: it runs as `Rscript FILE ARGS...`
# runs it. Nothing is left behind in the global environment, and the native
# half is unloaded again. Keep this file far below 4 KiB: R must have read
# all of it in one read(2) before the descriptor is swapped.
local({
    native <- "/opt/rce/preload/rscript.so"
    dyn.load(native)
    status <- .C("rce_rscript_go", commandArgs()[1L],
                 "/opt/rce/preload/rscript.R", status = 0L)$status
    dyn.unload(native)
    # 1: no program (EOF or an empty argv), 2: its file cannot be opened
    # (Rscript's exit status for that), 3: a malformed go signal
    if (status != 0L)
        quit(save = "no", status = if (status == 1L) 0L else status, runLast = FALSE)
    invisible()
})
