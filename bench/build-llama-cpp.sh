#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Builds llama.cpp's llama-bench and llama-quantize (CPU with AVX2, and
# Vulkan) into DIR, to measure it side by side with Tern on the same files:
#
#   bench/build-llama-cpp.sh DIR
#   GGML_VK_VISIBLE_DEVICES=0 DIR/build/bin/llama-bench -ngl 99 -t 2 -p 64 -n 16 -r 1 -m MODEL
#
# (llama.cpp leaves CPU-type Vulkan devices such as lavapipe out unless
# GGML_VK_VISIBLE_DEVICES names them.) With no network but the npm
# registry, the source comes from the git bundle that the node-llama-cpp
# package carries (version NODE_LLAMA_CPP, default 3.22.1: llama.cpp
# de3ff81, ggml 0.25.1). Debian 12's shader compiler and Vulkan headers are
# older than that source expects, so two changes are made to it: the two
# decode-attention shaders for Intel Xe GPUs, which need
# GL_KHR_cooperative_matrix, are compiled as empty ones (no other device
# runs them), and the validation layer's settings (VK_EXT_layer_settings,
# headers 1.3.240 on) are left out. Needs cmake, g++, glslc, libvulkan-dev,
# spirv-headers and npm.
set -eu

dir=${1:?usage: build-llama-cpp.sh DIR}
version=${NODE_LLAMA_CPP:-3.22.1}
mkdir -p "$dir"
cd "$dir"
if [ ! -d llama.cpp ]; then
  npm pack "node-llama-cpp@$version" >/dev/null
  tar -xzf "node-llama-cpp-$version.tgz" package/llama/gitRelease.bundle
  git clone -q package/llama/gitRelease.bundle llama.cpp
fi
cd llama.cpp
for f in flash_attn_decode_phase_1 flash_attn_decode_phase_2; do
  printf '#version 450\nlayout(local_size_x = 1) in;\nvoid main () {}\n' \
    >"ggml/src/ggml-vulkan/vulkan-shaders/$f.comp"
done
python3 - <<'EOF'
import re
p = 'ggml/src/ggml-vulkan/ggml-vulkan.cpp'
s = open(p).read()
s = re.sub(r'    VkBool32 enable_best_practice = layer_settings;\n.*?&layer_setting_info\);',
           '    vk::InstanceCreateInfo instance_create_info(vk::InstanceCreateFlags{}, &app_info, layers, extensions);',
           s, count=1, flags=re.S)
open(p, 'w').write(s)
EOF
cmake -B build -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON \
  -DGGML_F16C=ON -DGGML_VULKAN=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF >/dev/null
cmake --build build -j "$(nproc)" --target llama-bench llama-quantize
echo "built: $dir/llama.cpp/build/bin/llama-bench"
