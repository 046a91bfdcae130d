package main

// sysSENDMMSG is sendmmsg(2)'s number.
const sysSENDMMSG = 269
