"""``tfkit to-tfrecords``: an image set written as sharded TFRecord files (:mod:`tfkit.data`)."""


def add_parsers(commands):
    convert = commands.add_parser(
        "to-tfrecords",
        help="Write an image set (CIFAR-10, image folder, .npz) to sharded TFRecord files.",
        description="Write an image set to OUTPUT-0000i-of-0000n.tfrecord files that `data.format: tfrecord` trains "
                    "from. Example: tfkit to-tfrecords cifar-10-batches-py data/cifar10/train --format cifar10 --shards 8",
    )
    convert.add_argument("source", help="a CIFAR-10 folder or batch file, an image folder (one subfolder per class), an .npz file")
    convert.add_argument("output", help="path prefix of the shards, e.g. data/cifar10/train")
    convert.add_argument("--format", required=True, choices=["cifar10", "image_folder", "numpy"], help="what SOURCE is")
    convert.add_argument("--split", choices=["train", "test"], default="train",
                         help="which batches of a CIFAR-10 folder (default: train)")
    convert.add_argument("--shards", type=int, default=1, help="number of files (default: 1)")
    convert.add_argument("--image-size", type=int, nargs=2, metavar=("HEIGHT", "WIDTH"),
                         help="resize the images of an image folder to this size")
    convert.set_defaults(run=run)


def run(args):
    from tfkit import data

    images = data.read_images(args.source, args.format, args.split, args.image_size)
    files = data.write_tfrecords(images, args.output, num_shards=args.shards)
    height, width, channels = images.images.shape[1:]
    print(f"Wrote {len(images)} images ({height}x{width}x{channels}) to {len(files)} file(s): {files[0]}"
          + (f" ... {files[-1]}" if len(files) > 1 else ""))
    if images.class_names:
        print(f"Classes (label_vocabulary): {images.class_names}")
