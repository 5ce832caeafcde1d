#lang racket/base
;; rce's preloaded launcher for Racket (images/preload/README.md). rce-runner starts
;; `racket -N main.rkt -t /opt/rce/preload/racket.rkt` in a warm container before any
;; job: Racket boots and instantiates racket/base (~0.15 CPU-seconds), then blocks
;; reading the go signal on descriptor 3 (a big-endian u32 length, then the job's argv,
;; each argument NUL-terminated: "racket", "main.rkt", args…). The program then
;; runs as `racket main.rkt args…` runs it: (find-system-path 'run-file) is main.rkt (the
;; -N above), current-command-line-arguments holds the arguments, and the module is
;; declared, its configure-runtime submodule instantiated, the module required into the
;; top-level namespace and its main submodule run. Each step runs in a thread of its
;; own, started with nothing of this launcher on its continuation, so an uncaught
;; error's message and context are a cold run's; after one, the exit status is 1, as
;; racket's. Nothing more is loaded ahead: `racket` itself would take 0.3 CPU-seconds
;; more in every warm container, whether or not its program uses it (a `#lang racket`
;; program still saves the boot and racket/base).

;; The go signal's arguments, decoded as racket decodes its command line (empty at EOF).
(define (read-go)
  (define go (open-input-file "/proc/self/fd/3"))
  (define header (read-bytes 4 go))
  (define payload
    (if (and (bytes? header) (= (bytes-length header) 4))
        (read-bytes (integer-bytes->integer header #f #t) go)
        #""))
  (close-input-port go)
  (let split ([from 0] [args '()])
    (define nul
      (and (bytes? payload)
           (for/first ([i (in-range from (bytes-length payload))]
                       #:when (zero? (bytes-ref payload i)))
             i)))
    (if nul
        (split (add1 nul) (cons (bytes->string/locale (subbytes payload from nul) #\uFFFD) args))
        (reverse args))))

(define failed? #f)

;; Runs `thunk` in a fresh thread and waits for it; #f if an exception ended it (reported
;; by the default handler, as in the main thread of a cold run).
(define (in-thread thunk)
  (define report (uncaught-exception-handler))
  (thread-wait
   (parameterize ([uncaught-exception-handler (lambda (e) (set! failed? #t) (report e))])
     (thread thunk)))
  (not failed?))

(define argv (read-go))
(unless (>= (length argv) 2)
  (exit 0)) ; no job for this launcher
(current-command-line-arguments (list->vector (cddr argv)))
(define program `(file ,(cadr argv)))
(define (submodule name)
  `(submod ,program ,name))
;; Each thunk's last call is a tail call: no frame of this module is left below it.
(void (and (in-thread (lambda () (module-declared? program #t)))
           (or (not (module-declared? (submodule 'configure-runtime) #f))
               (in-thread (lambda () (dynamic-require (submodule 'configure-runtime) #f))))
           (in-thread (lambda () (namespace-require program)))
           (or (not (module-declared? (submodule 'main) #f))
               (in-thread (lambda () (dynamic-require (submodule 'main) #f))))))
(exit (if failed? 1 0))
