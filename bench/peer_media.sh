# Sourced by the benchmarks: builds the shared kit's media generator and generates the
# workload media (16 x 60 s stereo 24-bit) once into $WORK/media.
# Needs: KIT (the peer kit folder), WORK (the work folder, current directory).
ensure_peer_media() {
    if [[ ! -x gen_media || $KIT/gen_media.cpp -nt gen_media ]]; then
        echo "building gen_media ..."
        g++ -O2 -std=c++17 "$KIT/gen_media.cpp" -o gen_media.tmp -lsndfile
        mv -f gen_media.tmp gen_media
    fi
    if [[ -f media/t15.wav && media/t15.wav -nt $KIT/gen_media.cpp ]]; then
        echo "media: up to date ($WORK/media)"
    else
        echo "generating media (16 x 60 s stereo 24-bit, ~10 s) ..."
        rm -rf media.tmp
        mkdir media.tmp
        ./gen_media media.tmp >gen_media.log
        rm -rf media
        mv media.tmp media
    fi
}
