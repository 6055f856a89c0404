# The chart of bench/run.sh --docs: the worker's CPU time per request and
# the throughput per gateway and path, from DIR/chart.dat.
#   gnuplot -e "dir='build/bench'" bench/chart.gp

set terminal pngcairo size 1200,560 font "DejaVu Sans,11"
set output dir."/performance.png"

set multiplot layout 1,2 title "ngx\\_turso\\_members on loopback, one nginx worker (medians)" font ",13"

set style data histograms
set style histogram clustered gap 1.5
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key below horizontal font ",10"
set yrange [0:*]
set xtics nomirror font ",10"
set linetype 1 lc rgb "#8c8c8c"
set linetype 2 lc rgb "#1f6fb4"
set linetype 3 lc rgb "#e08a1e"
set linetype 4 lc rgb "#3a9a4a"

set title "worker CPU time per request (µs, lower is better)"
set format y "%.0f"
plot dir."/chart.dat" using 2:xtic(1) title "plain proxy\\_pass", \
     "" using 3 title "ngx\\_turso\\_members", \
     "" using 4 title "Lua (lua-cjson)", \
     "" using 5 title "njs"

set title "throughput (requests/s, information only)"
set format y "%.0f"
plot dir."/chart.dat" using 6:xtic(1) title "plain proxy\\_pass", \
     "" using 7 title "ngx\\_turso\\_members", \
     "" using 8 title "Lua (lua-cjson)", \
     "" using 9 title "njs"

unset multiplot
