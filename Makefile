# ka-mariadb: plain Makefile, static binaries into build/.
#   make                 build/ka-check-mariadb ... (static, -Werror)
#   make SANITIZE=1      ASan/UBSan build (dynamic) into build/asan/
#   make test            deps check, build, unit + integration + lab tiers (root)
#   make install PREFIX=/usr/local DESTDIR=

PREFIX   ?= /usr/local
DESTDIR  ?=
LIBEXEC  ?= $(PREFIX)/libexec/ka-mariadb
MANDIR   ?= $(PREFIX)/share/man/man8

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
            $(if $(wildcard client/ka-drill.c),ka-drill)
MANS     := $(wildcard check/*.8 notify/*.8 client/*.8)

LIB_SRCS := $(sort $(wildcard lib/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)

SRCS_ka-check-mariadb  := check/ka-check-mariadb.c
SRCS_ka-check-proxysql := check/ka-check-proxysql.c
SRCS_ka-notify-mariadb := $(wildcard notify/*.c)
SRCS_ka-drill          := $(wildcard client/*.c)
SRCS_test-lib          := tests/unit/test-lib.c

all: $(BINS:%=$(BUILD)/%) $(BUILD)/test-lib

$(BUILD)/obj/%.o: %.c $(wildcard lib/*.h notify/*.h client/*.h) Makefile
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

test: deps
	@$(MAKE) --no-print-directory all
	@$(TEST_ENV) timeout 4800 bash tests/run unit integration lab

test-unit: all
	@$(TEST_ENV) bash tests/run unit

test-integration: deps
	@$(MAKE) --no-print-directory all
	@$(TEST_ENV) bash tests/run integration

# The namespace lab (root; real keepalived + mariadbd in ka-* namespaces, tests/lab/).
test-lab: deps
	@$(MAKE) --no-print-directory all
	@$(TEST_ENV) timeout 2400 bash tests/run lab

demo: deps
	@$(MAKE) --no-print-directory all
	@KA_BIN=$(abspath $(BUILD)) bash tests/lab/demo

bench: deps
	@$(MAKE) --no-print-directory all
	@KA_BIN=$(abspath $(BUILD)) bash bench/check-cost
	@KA_BIN=$(abspath $(BUILD)) bash bench/failover -n $(or $(N),20)

install: all
	install -d $(DESTDIR)$(LIBEXEC) $(DESTDIR)$(MANDIR)
	@for b in $(BINS); do \
		install -s -o root -g root -m 0755 $(BUILD)/$$b $(DESTDIR)$(LIBEXEC)/.$$b.new && \
		mv -f $(DESTDIR)$(LIBEXEC)/.$$b.new $(DESTDIR)$(LIBEXEC)/$$b && \
		echo "installed $(DESTDIR)$(LIBEXEC)/$$b"; \
	done
	@for m in $(MANS); do install -m 0644 $$m $(DESTDIR)$(MANDIR)/; done

clean:
	rm -rf build

.PHONY: all deps test test-unit test-integration test-lab demo bench install clean
