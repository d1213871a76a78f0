model CRLF {
    norm rms // crlf
}
