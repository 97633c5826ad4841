rule make_dataset:
    output:
        keys.DATASET,
    log:
        keys.DATASET_LOG,
    params:
        data=dataset_settings,
    script:
        entry_script("make_dataset")
