package main

// sysSENDMMSG is sendmmsg(2)'s number: the frozen syscall package lacks it on amd64.
const sysSENDMMSG = 307
