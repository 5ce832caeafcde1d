// Class-data sharing training (the Dockerfile compiles it once with
// -XX:ArchiveClassesAtExit): what a typical contest or course program makes
// javac load — generics, lambdas and streams, records, a switch on strings,
// text I/O and exceptions.
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

public class Main {
    record Point(int x, int y) {}

    interface Shape {
        double area();
    }

    static <T extends Comparable<T>> T max(List<T> items) {
        T best = items.get(0);
        for (T item : items) {
            if (item.compareTo(best) > 0) {
                best = item;
            }
        }
        return best;
    }

    public static void main(String[] args) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        List<Integer> numbers = new ArrayList<>();
        String line;
        while ((line = in.readLine()) != null) {
            for (String word : line.trim().split("\\s+")) {
                switch (word) {
                    case "" -> { }
                    default -> numbers.add(Integer.parseInt(word));
                }
            }
        }
        Map<Boolean, List<Integer>> parts = numbers.stream().collect(Collectors.partitioningBy(n -> n % 2 == 0));
        Map<String, Integer> counts = new HashMap<>();
        counts.merge("even", parts.get(true).size(), Integer::sum);
        Shape unit = () -> Math.PI;
        Point origin = new Point(0, 0);
        try {
            System.out.printf("%s %d %.2f %s%n", counts, numbers.isEmpty() ? 0 : max(numbers), unit.area(), origin);
        } catch (RuntimeException e) {
            throw new IllegalStateException(e);
        }
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < args.length; i++) {
            text.append(args[i].toUpperCase());
        }
        System.out.println(text);
    }
}
