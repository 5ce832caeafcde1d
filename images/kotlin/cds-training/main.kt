// Class-data sharing training (the Dockerfile compiles it once with
// -XX:ArchiveClassesAtExit): what a typical contest or course program makes
// kotlinc load — data and sealed classes, lambdas and collections, when,
// string templates, nullable types, text input and exceptions.
data class Point(val x: Int, val y: Int)

sealed class Shape {
    abstract fun area(): Double
    class Circle(val r: Double) : Shape() { override fun area() = Math.PI * r * r }
    object Unit : Shape() { override fun area() = 1.0 }
}

fun <T : Comparable<T>> largest(items: List<T>): T? = items.max()

fun main(args: Array<String>) {
    val numbers = generateSequence(::readLine)
        .flatMap { it.trim().split(Regex("\\s+")).asSequence() }
        .filter { it.isNotEmpty() }
        .map { it.toInt() }
        .toMutableList()
    val (even, odd) = numbers.partition { it % 2 == 0 }
    val counts = mutableMapOf("even" to even.size, "odd" to odd.size)
    val shape: Shape = if (numbers.isEmpty()) Shape.Unit else Shape.Circle(numbers.size.toDouble())
    val kind = when (shape) {
        is Shape.Circle -> "circle"
        Shape.Unit -> "unit"
    }
    try {
        println("$counts ${largest(numbers) ?: 0} ${"%.2f".format(shape.area())} $kind ${Point(0, 0)}")
    } catch (e: IllegalStateException) {
        throw RuntimeException(e)
    }
    println(args.joinToString(" ") { it.toUpperCase() })
}
