// rce's preloaded launcher for the JVM languages (images/preload/README.md).
// rce-runner starts `java <the run command's JVM options>
// -Xbootclasspath/a:/opt/rce/preload/rce-launcher.jar -cp <its class path> RceLauncher
// WARM-UP…` in a warm container before any job: the JVM starts and warms up
// the language's runtime (the slow part). A WARM-UP "Class" initializes that
// class (scala.Predef$, kotlin.io.ConsoleKt); "Class arg…" (with spaces)
// calls Class.main(arg…), which must print nothing ("groovy.ui.GroovyMain -e
// null" loads and runs the Groovy compiler, "clojure.main -e nil" Clojure's).
// Then it blocks reading the go signal on descriptor 3 (a big-endian u32
// length, then the job's argv, each argument NUL-terminated: "java",
// options…, "-cp", path, MainClass, args…; Java can only reopen the
// descriptor by name, which the runner's open end keeps from blocking). The
// program then runs as that command would run it: MainClass.main(args) on
// the main thread, the class path as given ("." is the work dir, read when
// a class is first asked for). Loaded by the boot loader, this class may
// use @Hidden: its frame and the method handle's are left out of every
// stack trace, so an exception, printed by the program or by the JVM, shows
// the program's main as its bottom frame, as under `java MainClass`.
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.FileInputStream;
import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import jdk.internal.vm.annotation.Hidden;

public final class RceLauncher {
    private RceLauncher() {}

    @Hidden
    public static void main(String[] warmUp) throws Throwable {
        ClassLoader loader = ClassLoader.getSystemClassLoader();
        for (String step : warmUp) {
            String[] words = step.split(" ");
            Class<?> warmed = Class.forName(words[0], true, loader);
            if (words.length > 1) {
                mainOf(warmed).invokeExact(Arrays.copyOfRange(words, 1, words.length));
            }
        }
        List<String> argv = readGoSignal();
        int at = 1;
        while (at < argv.size() && argv.get(at).startsWith("-")) {
            String option = argv.get(at);
            at += option.equals("-cp") || option.equals("-classpath") ? 2 : 1;
        }
        if (at >= argv.size()) {
            return; // no job for this launcher
        }
        String[] args = argv.subList(at + 1, argv.size()).toArray(new String[0]);
        // Invoked through a method handle from a hidden frame: neither this
        // method nor the handle's frames show in a stack trace, so the
        // program's main is the bottom frame, as under `java MainClass`.
        mainOf(Class.forName(argv.get(at), true, loader)).invokeExact(args);
    }

    /** `public static void main(String[])` of `type`, even in a non-public class (as `java` allows). */
    private static MethodHandle mainOf(Class<?> type) throws ReflectiveOperationException {
        Method main = type.getMethod("main", String[].class);
        main.setAccessible(true);
        return MethodHandles.lookup().unreflect(main);
    }

    /** The job's argv from descriptor 3: its length, then NUL-terminated arguments. */
    private static List<String> readGoSignal() throws IOException {
        byte[] bytes;
        try (DataInputStream go = new DataInputStream(new FileInputStream("/proc/self/fd/3"))) {
            bytes = new byte[go.readInt()];
            go.readFully(bytes);
        } catch (EOFException e) {
            return List.of();
        }
        String text = new String(bytes, StandardCharsets.UTF_8);
        List<String> argv = new ArrayList<>(Arrays.asList(text.split("\0", -1)));
        argv.remove(argv.size() - 1); // after the last NUL
        return argv;
    }
}
