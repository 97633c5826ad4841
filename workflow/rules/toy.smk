# Part 1 of the post: train the toy model, then reload it in a fresh process and predict.


rule train_toy:
    output:
        checkpoint=f"results/toy/{PLAN.toy_key}/checkpoint.pt",
        losses=f"results/toy/{PLAN.toy_key}/losses.csv",
        evals=f"results/toy/{PLAN.toy_key}/evals.csv",
    log:
        f"results/toy/{PLAN.toy_key}/train.log",
    script:
        "../scripts/train_toy.py"


rule predict_toy:
    input:
        checkpoint=f"results/toy/{PLAN.toy_key}/checkpoint.pt",
    output:
        f"results/toy/{PLAN.toy_key}/predictions.csv",
    log:
        f"results/toy/{PLAN.toy_key}/predict.log",
    script:
        "../scripts/predict_toy.py"
