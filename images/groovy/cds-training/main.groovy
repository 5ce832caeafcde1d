// Class-data sharing training (the Dockerfile runs it once with
// -XX:ArchiveClassesAtExit): what a typical program makes Groovy load —
// classes, closures and collections, GStrings, maps, text input, exceptions.
class Point {
    int x, y
    String toString() { "($x, $y)" }
}

def numbers = System.in.readLines().collectMany { it.trim().split(/\s+/).findAll { it } }*.toInteger()
def (even, odd) = numbers.split { it % 2 == 0 }
def counts = [even: even.size(), odd: odd.size()]
try {
    println "${counts} ${numbers ? numbers.max() : 0} ${String.format('%.2f', Math.PI)} ${new Point(x: 0, y: 0)}"
} catch (IllegalStateException e) {
    throw new RuntimeException(e)
}
println args.collect { it.toUpperCase() }.join(' ')
