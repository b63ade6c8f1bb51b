# Entry points: `make build`, `make test`, `make demo`, `make demo-cluster`.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)

.PHONY: all build test demo demo-cluster deps clean bench format

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD_DIR)/build.ninja: CMakeLists.txt
	@bash scripts/install-deps.sh
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: $(BUILD_DIR)/build.ninja
	@bash scripts/install-deps.sh
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

demo: build
	@bash scripts/demo.sh

demo-cluster: build
	@bash scripts/demo-cluster.sh

bench: build
	@bash bench/run.sh

format:
	find src tests bench -name '*.h' -o -name '*.cc' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR)
