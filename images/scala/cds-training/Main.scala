// Class-data sharing training (the Dockerfile compiles it once with
// -XX:ArchiveClassesAtExit): what a typical contest or course program makes
// scalac load — case classes and traits, pattern matching, collections with
// closures, implicits, string interpolation, text input and exceptions.
import scala.io.StdIn
import scala.collection.mutable

case class Point(x: Int, y: Int)

sealed trait Shape { def area: Double }
final case class Circle(r: Double) extends Shape { def area: Double = math.Pi * r * r }
case object UnitSquare extends Shape { def area: Double = 1.0 }

object Main {
  def largest[T](items: Seq[T])(implicit order: Ordering[T]): Option[T] =
    if (items.isEmpty) None else Some(items.max)

  def main(args: Array[String]): Unit = {
    val numbers = Iterator.continually(StdIn.readLine()).takeWhile(_ != null)
      .flatMap(_.trim.split("\\s+")).filter(_.nonEmpty).map(_.toInt).toVector
    val (even, odd) = numbers.partition(_ % 2 == 0)
    val counts = mutable.Map("even" -> even.size, "odd" -> odd.size)
    val shape: Shape = if (numbers.isEmpty) UnitSquare else Circle(numbers.size.toDouble)
    val kind = shape match {
      case Circle(r) if r > 1 => "circle"
      case _: Circle => "small circle"
      case UnitSquare => "unit"
    }
    try println(f"$counts ${largest(numbers).getOrElse(0)} ${shape.area}%.2f $kind ${Point(0, 0)}")
    catch { case e: IllegalStateException => throw new RuntimeException(e) }
    println(args.map(_.toUpperCase).mkString(" "))
  }
}
