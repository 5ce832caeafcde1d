# The build stage images/<language>/Dockerfile files use with `COPY --from=launcher`:
# scripts/images.sh puts it in front of them. It compiles the JVM languages' preloaded
# launcher (RceLauncher.java) where a JDK is; the same stage in every JVM image, so the
# layer cache builds it once. Its frames are @Hidden, which needs jdk.internal.vm.annotation.
# It ships as a jar (/out/rce-launcher.jar, appended to the boot class path): class-data
# sharing archives, which the JVM images build, refuse a class directory on that path.
FROM rce-base:bookworm AS launcher
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jdk-headless \
 && rm -rf /var/lib/apt/lists/*
COPY preload/RceLauncher.java /src/
RUN javac --add-exports java.base/jdk.internal.vm.annotation=ALL-UNNAMED -d /classes /src/RceLauncher.java \
 && mkdir /out && jar --create --file /out/rce-launcher.jar -C /classes .

