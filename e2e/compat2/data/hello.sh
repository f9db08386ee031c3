# Run by /bin/sh (a static bash) in the image: prints what the config's env
# says, so the test sees stamp values inside the container.
echo "hello, revision=$REVISION"
