# ka-mariadb: plain Makefile, static binaries into build/.
#   make                 build/ka-check-mariadb ... (static, -Werror)
#   make SANITIZE=1      ASan/UBSan build (dynamic) into build/asan/
#   make fuzz            libFuzzer targets (tests/fuzz/), each FUZZ_TIME=60 seconds
#   make test            deps, builds; unit + integration + lab tiers, unit + integration
#                        on the sanitizer build, each fuzz target 10 s (root)
#   make install PREFIX=/usr/local DESTDIR=

PREFIX   ?= /usr/local
DESTDIR  ?=
LIBEXEC  ?= $(PREFIX)/libexec/ka-mariadb
MANDIR   ?= $(PREFIX)/share/man/man8
# keepalived needs both directories when it starts: the notify FIFO's (NOTIFY=fifo) and the
# fault file's (ka-notify-mariadb's state dir). /run is tmpfs, so a tmpfiles.d entry
# recreates them at every boot (systemd reads $(PREFIX)/lib/tmpfiles.d for /usr/local).
RUNDIR   ?= /run/ka-mariadb
STATEDIR ?= /var/lib/ka-mariadb
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d

CC       ?= cc
MDB_CFLAGS := $(shell pkg-config --cflags libmariadb 2>/dev/null || echo -I/usr/include/mariadb)
MDB_LIBS   := $(shell pkg-config --static --libs libmariadb 2>/dev/null || echo -lmariadb -lz -ldl -lm -lssl -lcrypto)
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Ilib $(MDB_CFLAGS)

ifeq ($(SANITIZE),1)
BUILD    ?= build/asan
CFLAGS   += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=address,undefined
LDLIBS   := $(shell pkg-config --libs libmariadb 2>/dev/null || echo -lmariadb) -lcrypto
else
BUILD    ?= build
CFLAGS   += -DKA_STATIC
LDFLAGS  += -static
LDLIBS   := $(MDB_LIBS) -lpthread
endif

# A binary is built once its main source exists: check/ka-check-*.c are single files,
# notify/ and client/ link every .c of their directory (examples/ excluded).
BINS     := ka-check-mariadb \
            $(if $(wildcard check/ka-check-proxysql.c),ka-check-proxysql) \
            $(if $(wildcard notify/ka-notify-mariadb.c),ka-notify-mariadb) \
            $(if $(wildcard client/ka-drill.c),ka-drill) \
            $(if $(wildcard check/ka-status.c),ka-status) \
            $(if $(wildcard check/ka-watch-mariadb.c),ka-watch-mariadb)
MANS     := $(wildcard check/*.8 notify/*.8 client/*.8)

LIB_SRCS := $(sort $(wildcard lib/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)

SRCS_ka-check-mariadb  := check/ka-check-mariadb.c
SRCS_ka-check-proxysql := check/ka-check-proxysql.c
SRCS_ka-notify-mariadb := $(wildcard notify/*.c)
SRCS_ka-drill          := $(wildcard client/*.c)
SRCS_ka-status         := check/ka-status.c $(wildcard check/status-*.c)
SRCS_ka-watch-mariadb  := check/ka-watch-mariadb.c
SRCS_test-lib          := tests/unit/test-lib.c

all: $(BINS:%=$(BUILD)/%) $(BUILD)/test-lib

$(BUILD)/obj/%.o: %.c $(wildcard lib/*.h notify/*.h client/*.h check/*.h) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libka.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

# One link rule per binary: $(1) is the name, SRCS_$(1) its sources.
define link_rule
$(BUILD)/$(1): $(patsubst %.c,$(BUILD)/obj/%.o,$(SRCS_$(1))) $(BUILD)/libka.a
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS) 2>$$@.ldlog || { cat $$@.ldlog; rm -f $$@.ldlog; exit 1; }
	@rm -f $$@.ldlog
endef
$(foreach b,$(BINS) test-lib,$(eval $(call link_rule,$(b))))

deps:
	@sh tests/helpers/install-deps.sh

TEST_ENV := KA_BIN=$(abspath $(BUILD)) SANITIZE=$(SANITIZE)

# make test: every tier on the static build, then unit + integration again on the
# ASan/UBSan build (any report fails: -fno-sanitize-recover=all), then each fuzz target
# for FUZZ_TEST_TIME seconds. One "N passed, N failed" line at the end.
test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory SANITIZE=1 BUILD=build/asan all
	@$(MAKE) --no-print-directory fuzz-build
	@$(TEST_ENV) KA_BIN_ASAN=$(abspath build/asan) KA_FUZZ_BIN=$(abspath $(FUZZ_BUILD)) \
		KA_FUZZ_SECONDS=$(FUZZ_TEST_TIME) timeout 5000 \
		bash tests/run unit integration lab package unit@asan integration@asan fuzz
	@echo "vagrant tier: skipped (run make test-vagrant: about 25 min warm, 45 min cold without KVM, over CI's budget)"

test-unit: all
	@$(TEST_ENV) bash tests/run unit

test-integration: deps
	@$(MAKE) --no-print-directory all
	@$(TEST_ENV) bash tests/run integration

# The namespace lab (root; real keepalived + mariadbd in ka-* namespaces, tests/lab/).
test-lab: deps
	@$(MAKE) --no-print-directory all
	@$(TEST_ENV) timeout 2400 bash tests/run lab

# The Vagrant lab booted for real (root; tests/vagrant/): host packages, the static build,
# the local box (cached in /var/cache/ka-mariadb/vagrant), db1 + db2 as VMs, one failover.
test-vagrant: deps
	@sh tests/helpers/install-deps.sh vagrant
	@$(MAKE) --no-print-directory all
	@vagrant/tools/build-box >/dev/null
	@$(TEST_ENV) timeout 3600 bash tests/run vagrant

demo: deps
	@$(MAKE) --no-print-directory all
	@KA_BIN=$(abspath $(BUILD)) bash tests/lab/demo

bench: deps
	@$(MAKE) --no-print-directory all
	@KA_BIN=$(abspath $(BUILD)) bash bench/check-cost
	@KA_BIN=$(abspath $(BUILD)) bash bench/watch-cost
	@KA_BIN=$(abspath $(BUILD)) bash bench/failover -n $(or $(N),5)
	@KA_BIN=$(abspath $(BUILD)) bash bench/failover -n $(or $(N),5) --nodes 3 --faults kill
	@KA_BIN=$(abspath $(BUILD)) bash bench/switchover -n $(or $(N),10)

# libFuzzer targets (tests/fuzz/fuzz-*.c) for every parser of outside input, built with
# clang; seed corpora in tests/fuzz/corpus/NAME. `make fuzz` runs each FUZZ_TIME seconds.
FUZZ_CC        ?= clang
FUZZ_BUILD     := build/fuzz
FUZZ_TIME      ?= 60
FUZZ_TEST_TIME ?= 10
FUZZ_TARGETS   := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz-*.c))
FUZZ_CFLAGS    := -g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Ilib -Inotify -Iclient -Itests/fuzz \
                  $(MDB_CFLAGS) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_LIBS      := $(shell pkg-config --libs libmariadb 2>/dev/null || echo -lmariadb) -lcrypto
# What a target links beside lib/: the rest of the binary whose main file it includes.
FUZZ_SRCS_fuzz-args-notify := $(filter-out notify/ka-notify-mariadb.c,$(wildcard notify/*.c))
FUZZ_SRCS_fuzz-fifo-notify := notify/event.c
FUZZ_SRCS_fuzz-state-notify := $(filter-out notify/ka-notify-mariadb.c,$(wildcard notify/*.c))
FUZZ_SRCS_fuzz-args-drill  := $(filter-out client/ka-drill.c,$(wildcard client/*.c))
FUZZ_SRCS_fuzz-args-status := $(wildcard check/status-*.c)

fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/%)

$(FUZZ_BUILD)/fuzz-%: tests/fuzz/fuzz-%.c tests/fuzz/fuzz.h $(LIB_SRCS) $(wildcard lib/*.h notify/*.[ch] client/*.[ch] check/*.c) Makefile
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRCS) $(FUZZ_SRCS_fuzz-$*) $(FUZZ_LIBS)

fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
		echo "== $$t: $(FUZZ_TIME) s"; mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
		if $(FUZZ_BUILD)/$$t -max_total_time=$(FUZZ_TIME) -timeout=10 -rss_limit_mb=2048 -close_fd_mask=2 \
			-artifact_prefix=$(FUZZ_BUILD)/$$t- -print_final_stats=1 \
			$(FUZZ_BUILD)/corpus/$$t tests/fuzz/corpus/$${t#fuzz-} >$(FUZZ_BUILD)/$$t.log 2>&1; \
		then grep -E '^stat::(number_of_executed_runs|new_units_added)' $(FUZZ_BUILD)/$$t.log; \
		else grep -E 'ERROR|SUMMARY|Test unit written' $(FUZZ_BUILD)/$$t.log; \
			echo "$$t FAILED (log: $(FUZZ_BUILD)/$$t.log)"; exit 1; fi; \
	done

install: all
	install -d $(DESTDIR)$(LIBEXEC) $(DESTDIR)$(MANDIR)
	@for b in $(BINS); do \
		install -s -o root -g root -m 0755 $(BUILD)/$$b $(DESTDIR)$(LIBEXEC)/.$$b.new && \
		mv -f $(DESTDIR)$(LIBEXEC)/.$$b.new $(DESTDIR)$(LIBEXEC)/$$b && \
		echo "installed $(DESTDIR)$(LIBEXEC)/$$b"; \
	done
	@for m in $(MANS); do install -m 0644 $$m $(DESTDIR)$(MANDIR)/; done
	install -d $(DESTDIR)$(TMPFILESDIR)
	@printf '%s\n' '# ka-mariadb (make install): the directories keepalived needs at start-up,' \
		'# also after a reboot: the notify FIFO (/run is tmpfs) and the fault file and' \
		'# ka-notify-mariadb state. Missing, keepalived silently drops the track_file' \
		'# (no forced FAULT) or the FIFO (no notify at all).' \
		'd $(RUNDIR) 0700 root root -' 'd $(STATEDIR) 0700 root root -' \
		> $(DESTDIR)$(TMPFILESDIR)/.ka-mariadb.conf.new
	@mv -f $(DESTDIR)$(TMPFILESDIR)/.ka-mariadb.conf.new $(DESTDIR)$(TMPFILESDIR)/ka-mariadb.conf
	@echo "installed $(DESTDIR)$(TMPFILESDIR)/ka-mariadb.conf"
	install -d -o root -g root -m 0700 $(DESTDIR)$(STATEDIR)
	@# A staged install (DESTDIR) leaves the runtime directory to tmpfiles.d at boot.
	@if [ -z "$(DESTDIR)" ]; then install -d -o root -g root -m 0700 $(RUNDIR) && \
		echo "created $(RUNDIR)"; fi

# make deb: ka-mariadb_VERSION_amd64.deb with Debian's own tooling (debian/, debhelper 13,
# dpkg-buildpackage -b) into $(DEBDIR), from a copy of the sources in $(DEBDIR)/src
# (dpkg-buildpackage writes beside the tree), then lintian: no error or warning that
# debian/ka-mariadb.lintian-overrides does not explain. VERSION is the one the binaries
# print (check/ka-check-mariadb.c); debian/changelog must say the same.
DEBDIR   ?= build/deb
VERSION  := $(shell sed -n '/define VERSION "/{s/.*"\(.*\)".*/\1/p;q}' check/ka-check-mariadb.c)
DEB      := $(DEBDIR)/ka-mariadb_$(VERSION)_amd64.deb

deb:
	@cv=$$(dpkg-parsechangelog -S Version) && [ "$$cv" = "$(VERSION)" ] || \
		{ echo "deb: debian/changelog says '$$cv', the binaries print '$(VERSION)'" >&2; exit 1; }
	rm -rf $(DEBDIR) && mkdir -p $(DEBDIR)/src/ka-mariadb-$(VERSION)
	cp -a Makefile README.md lib check notify client conf-templates debian tests \
		$(DEBDIR)/src/ka-mariadb-$(VERSION)/
	cd $(DEBDIR)/src/ka-mariadb-$(VERSION) && dpkg-buildpackage -us -uc -b -jauto
	mv $(DEBDIR)/src/ka-mariadb_$(VERSION)_amd64.deb $(DEBDIR)/src/ka-mariadb_$(VERSION)_amd64.changes $(DEBDIR)/
	@# lintian leaves Berkeley DB temp files (mldbm-elf-*) behind: keep them in build/.
	mkdir -p $(DEBDIR)/tmp && TMPDIR=$(abspath $(DEBDIR))/tmp lintian --fail-on error,warning --display-info $(DEB)
	@echo "built $(DEB)"

clean:
	rm -rf build

.PHONY: all deps deb test test-unit test-integration test-lab test-vagrant demo bench install clean fuzz fuzz-build
