# ntkit: GNU Makefile. `make` builds build/libntkit.a, build/libntkit.so and build/ntkit.
# Targets: all test asan bench demo install clean deps python-test mpi
# make bench BENCH_SIZE=quick: the scale benchmarks (bench/scale.sh) at smaller n

VERSION   := 0.1.0
SOMAJOR   := 0
PREFIX    ?= /usr/local
BUILD     ?= build
CC        ?= cc
PYTHON    ?= /usr/bin/python3

PKGS      := openblas lapacke libcjson sleef
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) gsl 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lgsl

WARN      := -Wall -Wextra -Wshadow -Wno-unused-parameter
CFLAGS    ?= -O2 -g
override CFLAGS += -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L $(WARN) -fPIC -Iinclude -Isrc $(PKG_CFLAGS)
LDLIBS    := $(PKG_LIBS) -lm -lpthread

SRC       := $(sort $(wildcard src/*.c))
OBJ       := $(SRC:src/%.c=$(BUILD)/obj/%.o)
CLI_SRC   := $(sort $(filter-out cli/mpi_%.c,$(wildcard cli/*.c)))
CLI_OBJ   := $(CLI_SRC:cli/%.c=$(BUILD)/cli/%.o)
TEST_SRC  := $(sort $(wildcard tests/test_*.c))
TEST_BIN  := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
HDRS      := include/ntkit.h $(wildcard src/*.h) $(wildcard cli/*.h) $(wildcard tests/*.h)

LIB_A     := $(BUILD)/libntkit.a
LIB_SO    := $(BUILD)/libntkit.so.$(VERSION)
CLI_BIN   := $(BUILD)/ntkit

.PHONY: all test asan bench demo install clean deps check-deps python-test tests
all: check-deps $(LIB_A) $(LIB_SO) $(CLI_BIN)

# Stops with the exact apt-get line when a build dependency is missing.
check-deps:
	@sh scripts/deps.sh check-build

# Installs missing Debian packages when run as root, else prints the apt-get line.
deps:
	@sh scripts/deps.sh install

$(BUILD)/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/cli/%.o: cli/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Icli -c $< -o $@

$(LIB_A): $(OBJ)
	@rm -f $@
	ar rcs $@ $^

$(LIB_SO): $(OBJ)
	$(CC) $(CFLAGS) -shared -Wl,-soname,libntkit.so.$(SOMAJOR) -o $@ $^ $(LDFLAGS) $(LDLIBS)
	ln -sf libntkit.so.$(VERSION) $(BUILD)/libntkit.so.$(SOMAJOR)
	ln -sf libntkit.so.$(SOMAJOR) $(BUILD)/libntkit.so

$(CLI_BIN): $(CLI_OBJ) $(LIB_A)
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(LIB_A) $(LDFLAGS) $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(LIB_A) $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(LIB_A) $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(LIB_A) $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_A) $(LDFLAGS) $(LDLIBS)

tests: $(TEST_BIN)

# The test suite: C unit tests, CLI tests, Python tests, experiment smoke runs.
test: deps
	@$(MAKE) --no-print-directory all tests
	@BUILD=$(BUILD) PYTHON=$(PYTHON) sh tests/run.sh

# ASan + UBSan over the C tests and the command-line tests (every CLI test
# runs the sanitized build/ntkit), in a separate build tree.
asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan \
	  CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	  LDFLAGS="-fsanitize=address,undefined" all tests
	@ASAN_OPTIONS=detect_leaks=1 BUILD=build-asan NTK_TEST_NO_PYTHON=1 sh tests/run.sh

# libFuzzer targets (fuzz/fuzz_*.c) on the readers and parsers: the library
# built with clang, ASan and UBSan in $(FUZZ_BUILD), then each target run for
# FUZZ_SECONDS on a scratch copy of its corpus (fuzz/run.sh). Crashing inputs
# are kept in $(FUZZ_BUILD)/crashes/<target>/; any crash fails. FUZZ_TARGETS
# picks some (e.g. FUZZ_TARGETS="npy csv"); the default is all.
FUZZ_BUILD   ?= build-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 30
FUZZ_TARGETS ?=
FUZZ_SRC     := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BIN     := $(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzz/%)
.PHONY: fuzz fuzz-build
fuzz: check-deps
	@command -v $(FUZZ_CC) >/dev/null 2>&1 || { echo "ntkit: make fuzz needs $(FUZZ_CC) with libFuzzer; run as root: apt-get install -y clang libclang-rt-14-dev" >&2; exit 1; }
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) \
	  CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined -fsanitize=fuzzer-no-link" \
	  fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) sh fuzz/run.sh $(FUZZ_TARGETS)

# (called by fuzz with BUILD=$(FUZZ_BUILD) and the fuzzing flags)
fuzz-build: $(LIB_A) $(FUZZ_BIN)

$(BUILD)/fuzz/%: fuzz/%.c $(LIB_A) $(HDRS) $(wildcard fuzz/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ifuzz -fsanitize=fuzzer -o $@ $< $(LIB_A) $(LDFLAGS) $(LDLIBS)

bench: check-deps all $(BENCH_BIN)
	@for b in $(BENCH_BIN); do case $$b in *bench_scale) continue;; esac; echo "== $$b"; $$b || exit 1; done
	@BUILD=$(BUILD) PYTHON=$(PYTHON) sh bench/scale.sh $(BENCH_SIZE)

demo: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/demo.sh $(CLI_BIN)

python-test: all
	@cd python && NTKIT_LIBRARY=$(CURDIR)/$(BUILD)/libntkit.so NTKIT=$(CURDIR)/$(CLI_BIN) OPENBLAS_NUM_THREADS=$${OPENBLAS_NUM_THREADS:-1} $(PYTHON) run_tests.py

# The Python package goes to PYTHON_SITE: PYTHON's own site directory when it lies
# under PREFIX (Debian: /usr/local/lib/python3.X/dist-packages), else
# PREFIX/lib/python3.X/site-packages. pip installs python/ there with --target,
# bundling the libntkit.so built above (no download, no second compilation).
PYTHON_SITE ?= $(shell $(PYTHON) -c 'import sys, sysconfig; p = sys.argv[1].rstrip("/"); d = sysconfig.get_path("platlib"); print(d if d.startswith(p + "/") else sysconfig.get_path("platlib", "posix_prefix", vars={"base": p, "platbase": p}))' '$(PREFIX)' 2>/dev/null)

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/share/ntkit
	install -m 644 include/ntkit.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(LIB_A) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(LIB_SO) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libntkit.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libntkit.so.$(SOMAJOR)
	ln -sf libntkit.so.$(SOMAJOR) $(DESTDIR)$(PREFIX)/lib/libntkit.so
	install -m 755 $(CLI_BIN) $(DESTDIR)$(PREFIX)/bin/
	if [ -d tools ]; then install -m 644 tools/*.py $(DESTDIR)$(PREFIX)/share/ntkit/; fi
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' ntkit.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/ntkit.pc
	NTKIT_LIBRARY=$(CURDIR)/$(LIB_SO) $(PYTHON) -m pip install --quiet --root-user-action=ignore --no-build-isolation --no-deps --no-index --upgrade --target="$(DESTDIR)$(PYTHON_SITE)" ./python

# The distributed build (docs/scaling.md §6): $(MPI_BUILD)/ntkit, whose krr,
# spectrum and kgd run on many processes (mpirun -np P) through PETSc and
# SLEPc; every other command runs as in the ordinary build. The library is
# compiled as usual into $(MPI_BUILD)/obj; src/mpi/*.c and the command line
# (with cli/mpi_*.c and -DNTK_MPI) are compiled with $(MPICC). The ordinary
# build never sees MPI, PETSc or SLEPc.
MPI_BUILD   ?= build-mpi
MPICC       ?= mpicc
MPI_PKGS    := PETSc SLEPc scalapack-openmpi
MPI_CFLAGS   = $(patsubst -I%,-isystem %,$(shell pkg-config --cflags $(MPI_PKGS) 2>/dev/null))
MPI_LIBS     = $(shell pkg-config --libs $(MPI_PKGS) 2>/dev/null)
MPI_SRC     := $(sort $(wildcard src/mpi/*.c))
MPI_CLI_SRC := $(sort $(wildcard cli/*.c))
MPI_OBJ     := $(MPI_SRC:src/mpi/%.c=$(MPI_BUILD)/mpi/%.o) $(MPI_CLI_SRC:cli/%.c=$(MPI_BUILD)/cli-mpi/%.o)
MPI_HDRS    := $(HDRS) $(wildcard src/mpi/*.h)
.PHONY: mpi mpi-check-deps mpi-bin
mpi: check-deps mpi-check-deps
	@$(MAKE) --no-print-directory BUILD=$(MPI_BUILD) $(MPI_BUILD)/libntkit.a
	@$(MAKE) --no-print-directory mpi-bin

mpi-check-deps:
	@command -v $(MPICC) >/dev/null 2>&1 && pkg-config --exists $(MPI_PKGS) || { echo "ntkit: make mpi needs MPI, PETSc, SLEPc and ScaLAPACK; run as root: apt-get install -y openmpi-bin libopenmpi-dev libpetsc-real-dev libslepc-real-dev libscalapack-openmpi-dev" >&2; exit 1; }

ifneq ($(BUILD),$(MPI_BUILD))
mpi-bin: $(MPI_BUILD)/ntkit

$(MPI_BUILD)/mpi/%.o: src/mpi/%.c $(MPI_HDRS)
	@mkdir -p $(dir $@)
	$(MPICC) $(CFLAGS) -Isrc/mpi -Icli $(MPI_CFLAGS) -c $< -o $@

$(MPI_BUILD)/cli-mpi/%.o: cli/%.c $(MPI_HDRS)
	@mkdir -p $(dir $@)
	$(MPICC) $(CFLAGS) -DNTK_MPI -Icli -Isrc/mpi $(MPI_CFLAGS) -c $< -o $@

$(MPI_BUILD)/ntkit: $(MPI_OBJ) $(MPI_BUILD)/libntkit.a
	$(MPICC) $(CFLAGS) -o $@ $(MPI_OBJ) $(MPI_BUILD)/libntkit.a $(LDFLAGS) $(MPI_LIBS) $(LDLIBS)
endif

clean:
	rm -rf build build-asan build-fuzz $(MPI_BUILD)
