# Two commands set everything up on a fresh Debian 12 machine (as root):
#   make demo   renders the demo session to out/demo.wav
#   make test   runs the whole suite under ctest
# Both install the Debian packages that are missing, configure and build.

BUILD ?= build
JOBS ?= 2
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

# What the build needs (each is explained in docs/dependencies.md).
BUILD_PACKAGES := cmake make g++ pkg-config ccache \
  libcaf-dev libzmq3-dev cppzmq-dev libmsgpack-cxx-dev libjack-jackd2-dev \
  libsndfile1-dev libsamplerate0-dev librubberband-dev libxxhash-dev libaubio-dev libebur128-dev \
  libtomlplusplus-dev libfftw3-dev \
  libcli11-dev nlohmann-json3-dev libboost-test-dev
# What the tests check files with: tools nobody here wrote.
TEST_PACKAGES := sox libsox-fmt-all flac python3 python3-jsonschema

.PHONY: all deps test-deps configure build demo test bench clean

all: build

deps:
	@./scripts/install-packages $(BUILD_PACKAGES)

test-deps:
	@./scripts/install-packages $(TEST_PACKAGES)

configure: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) > /dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@mkdir -p out
	@$(BUILD)/bin/loophole render $(BUILD)/examples/demo/session.json -o out/demo.wav --force
	@echo "The demo is in out/demo.wav (play it with: play out/demo.wav)"

test: test-deps build
	@cd $(BUILD) && ctest --output-on-failure --timeout 600

bench: build test-deps
	@./scripts/install-packages ecasound swh-plugins
	@bench/peers.sh A

clean:
	rm -rf $(BUILD) out
