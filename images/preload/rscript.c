/* The native half of R's preloaded launcher (rscript.R), built into
 * /opt/rce/preload/rscript.so by images/r/Dockerfile and called once through
 * .C when R has started: it reads the go signal from descriptor 3, gives R
 * the command line `Rscript FILE ARGS…` would have given it (through
 * R_set_command_line_arguments, R's embedding API, so commandArgs() is
 * Rscript's), and points the descriptor R reads its --file from (the launcher
 * script, read up to its last line) at the program's file. R's own
 * read-eval-print loop then runs the program exactly as it runs a script:
 * expression by expression, printing visible values, reporting errors,
 * warnings and "Execution halted" itself. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* R's embedding API (Rembedded.h), resolved in the R process at dyn.load. */
extern void R_set_command_line_arguments(int argc, char **argv);

#define GO_FD 3
/* As the runner's limit on the go signal (runner/src/preload.rs). */
#define MAX_GO_BYTES (60 * 1024)
/* What Rscript puts between R's executable and the script's own arguments. */
static const char *const RSCRIPT_OPTIONS[] = {"--no-echo", "--no-restore"};
#define N_RSCRIPT_OPTIONS 2

enum { GO = 0, NO_PROGRAM = 1, CANNOT_OPEN = 2, BAD_SIGNAL = 3 };

/* Reads exactly len bytes; 0 when done, -1 on EOF or error. */
static int read_exactly(int fd, char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = read(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The descriptor open on `path` (R's --file), or -1. */
static int descriptor_of(const char *path)
{
    DIR *dir = opendir("/proc/self/fd");
    if (!dir)
        return -1;
    int found = -1;
    struct dirent *entry;
    while (found < 0 && (entry = readdir(dir)) != NULL) {
        char link[64], target[PATH_MAX];
        int fd = atoi(entry->d_name);
        if (entry->d_name[0] == '.' || fd == dirfd(dir))
            continue;
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n > 0) {
            target[n] = '\0';
            if (strcmp(target, path) == 0)
                found = fd;
        }
    }
    closedir(dir);
    return found;
}

/* exec_path: R's executable (commandArgs()[1]); launcher: the script R reads
 * (its --file); status: GO, or why the program does not run. */
void rce_rscript_go(char **exec_path, char **launcher, int *status)
{
    static char signal[MAX_GO_BYTES + 1];
    unsigned char length_bytes[4];
    *status = NO_PROGRAM;
    if (read_exactly(GO_FD, (char *)length_bytes, 4) != 0)
        return;
    uint32_t length = (uint32_t)length_bytes[0] << 24 | (uint32_t)length_bytes[1] << 16 |
                      (uint32_t)length_bytes[2] << 8 | length_bytes[3];
    if (length == 0)
        return;
    *status = BAD_SIGNAL;
    if (length > MAX_GO_BYTES || read_exactly(GO_FD, signal, length) != 0 ||
        signal[length - 1] != '\0')
        return;
    close(GO_FD);

    /* The go signal's argv: Rscript, the file, the program's arguments. */
    static char *go[MAX_GO_BYTES / 2 + 1];
    int n_go = 0;
    for (char *arg = signal; arg < signal + length; arg += strlen(arg) + 1)
        go[n_go++] = arg;
    if (n_go < 2)
        return;
    const char *file = go[1];

    int program = open(file, O_RDONLY);
    if (program < 0) {
        fprintf(stderr, "Fatal error: cannot open file '%s': %s\n", file, strerror(errno));
        *status = CANNOT_OPEN;
        return;
    }
    int script = descriptor_of(*launcher);
    if (script < 0 || dup2(program, script) < 0) {
        close(program);
        return;
    }
    close(program);

    /* R's executable, Rscript's options, --file=FILE, then --args and the
     * arguments when there are any: what R sees under Rscript. */
    static char *argv[N_RSCRIPT_OPTIONS + 3 + MAX_GO_BYTES / 2];
    static char file_option[MAX_GO_BYTES + 8];
    int argc = 0;
    argv[argc++] = *exec_path;
    for (int i = 0; i < N_RSCRIPT_OPTIONS; i++)
        argv[argc++] = (char *)RSCRIPT_OPTIONS[i];
    snprintf(file_option, sizeof file_option, "--file=%s", file);
    argv[argc++] = file_option;
    if (n_go > 2) {
        argv[argc++] = "--args";
        for (int i = 2; i < n_go; i++)
            argv[argc++] = go[i];
    }
    R_set_command_line_arguments(argc, argv);
    *status = GO;
}
