pub fn run(_c: u64, _e: u64) -> anyhow::Result<()> {
    anyhow::bail!("todo")
}
