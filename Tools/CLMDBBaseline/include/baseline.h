int tandem_baseline_placeholder(void);
