# fuzz/fuzz.mk - plain GNU make rules for the libFuzzer harnesses (clang only); run by
# fuzz/build.sh, never by automake. SRC: the source tree, BLD: the configured build tree
# (config.h), OUT: where objects and harness binaries go.
CC = clang
SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
DEPS = json-c liblz4 libxxhash libcrypto libcurl libxml-2.0 inih fuse3 libmicrohttpd
PKG_CFLAGS := $(shell pkg-config --cflags $(DEPS))
PKG_LIBS := $(shell pkg-config --libs $(DEPS))
CFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Wno-unused-parameter \
	-I$(BLD) -I$(SRC) $(PKG_CFLAGS) $(SAN)
LIBS = $(PKG_LIBS) -lrbd -lrados -lpthread

# The project's sources, instrumented for coverage (everything but main.c).
PROJ_SRCS = $(filter-out $(SRC)/agent/main.c, \
	$(shell find $(SRC)/agent $(SRC)/s3 $(SRC)/rbdio -name '*.c'))
PROJ_OBJS = $(patsubst $(SRC)/%.c,$(OUT)/obj/%.o,$(PROJ_SRCS))

HARNESSES = $(patsubst $(SRC)/fuzz/harness/fuzz_%.c,%,$(wildcard $(SRC)/fuzz/harness/fuzz_*.c))
BINS = $(addprefix $(OUT)/fuzz_,$(HARNESSES))

# Calls a harness redirects to its own fakes (ld --wrap: callers in other objects only).
WRAP_restore = -Wl,--wrap=s3_get
WRAP_lifecycle = -Wl,--wrap=ag_s3 -Wl,--wrap=s3_get_lifecycle -Wl,--wrap=s3_put_lifecycle \
    -Wl,--wrap=s3_get_versioning

all: $(BINS) $(OUT)/gen_seeds

# The seed writer: a plain program on the same objects.
$(OUT)/gen_seeds: $(OUT)/obj/fuzz/gen_seeds.o $(OUT)/libproj.a
	$(CC) $(SAN) -o $@ $< $(OUT)/libproj.a $(LIBS)

$(OUT)/obj/%.o: $(SRC)/%.c $(shell find $(SRC)/agent $(SRC)/s3 $(SRC)/rbdio -name "*.h") $(BLD)/config.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(OUT)/libproj.a: $(PROJ_OBJS)
	rm -f $@
	ar rcs $@ $^

$(OUT)/obj/fuzz/%.o: $(SRC)/fuzz/%.c $(SRC)/fuzz/harness/fuzz_util.h $(shell find $(SRC)/agent $(SRC)/s3 $(SRC)/rbdio -name "*.h")
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(OUT)/fuzz_%: $(OUT)/obj/fuzz/harness/fuzz_%.o $(OUT)/libproj.a
	$(CC) $(SAN) -fsanitize=fuzzer -o $@ $< $(WRAP_$*) $(OUT)/libproj.a $(LIBS)

.PHONY: all
.SECONDARY:
