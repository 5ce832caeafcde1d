;; Class-data sharing training (the Dockerfile runs it once with
;; -XX:ArchiveClassesAtExit): what a typical program makes Clojure load —
;; records, protocols, sequences and maps, string functions, formatted and
;; line input, exceptions.
(require '[clojure.string :as str])

(defrecord Point [x y])

(defprotocol Shape (area [shape]))

(extend-protocol Shape
  Point (area [_] 0.0))

(let [numbers (->> (line-seq (java.io.BufferedReader. *in*))
                   (mapcat #(str/split (str/trim %) #"\s+"))
                   (remove str/blank?)
                   (map #(Long/parseLong %)))
      {even true odd false} (group-by even? numbers)
      counts {:even (count even) :odd (count odd)}]
  (try
    (println counts (if (seq numbers) (apply max numbers) 0) (format "%.2f" Math/PI) (area (->Point 0 0)))
    (catch IllegalStateException e (throw (RuntimeException. e))))
  (println (str/join " " (map str/upper-case *command-line-args*))))
